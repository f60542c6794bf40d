import Foundation

/// How meshctl's human output may look where it goes: how wide a table may be and whether
/// it may colour. Decided once per run from the environment (`detect`), passed to every
/// view, so the views stay pure functions of their input and this value (golden tests).
public struct OutputStyle: Sendable, Equatable {
    /// The widest a table may be, in columns; `nil`: no limit.
    public var width: Int?
    /// Whether cells may carry ANSI colour (SGR) sequences.
    public var colour: Bool

    public init(width: Int?, colour: Bool) {
        self.width = width
        self.colour = colour
    }

    /// What the golden files are rendered with: 80 columns, no colour.
    public static let plain = OutputStyle(width: defaultWidth, colour: false)

    /// The width when neither the terminal nor `COLUMNS` tells one.
    public static let defaultWidth = 80
    /// Widths outside this range (a bogus `COLUMNS`, a tiny window) are clamped into it.
    public static let widthRange = 40 ... 1000

    /// Colour only on a terminal, never with `NO_COLOR` set to anything non-empty
    /// (https://no-color.org) or with `TERM=dumb`. The width is the terminal's columns on a
    /// terminal, else `COLUMNS`, else 80 (`--json` is the way to get every field whole).
    public static func detect(environment: [String: String], stdoutIsTerminal: Bool, terminalColumns: Int?) -> OutputStyle {
        let noColour = !(environment["NO_COLOR"] ?? "").isEmpty || environment["TERM"] == "dumb"
        let columns = (stdoutIsTerminal ? terminalColumns : nil)
            ?? environment["COLUMNS"].flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            ?? defaultWidth
        let width = min(max(columns, widthRange.lowerBound), widthRange.upperBound)
        return OutputStyle(width: width, colour: stdoutIsTerminal && !noColour)
    }

    /// `text` wrapped in `colour`'s sequence and a reset when this style colours.
    public func paint(_ text: String, _ colour: TerminalColour?) -> String {
        guard self.colour, let colour, !text.isEmpty else { return text }
        return colour.sequence + text + TerminalColour.reset
    }
}

/// The few colours meshctl uses, each for one meaning.
public enum TerminalColour: String, Sendable {
    /// Healthy: alive, running, ok.
    case green = "32"
    /// In between: suspect, starting, pending.
    case yellow = "33"
    /// Wrong: dead, failed, unreachable.
    case red = "31"
    /// Gone on purpose: left, stopped, exited.
    case dim = "2"

    public var sequence: String { "\u{1B}[\(rawValue)m" }
    /// Ends any colour: written after each coloured cell, and on Ctrl-C in a follow mode.
    public static let reset = "\u{1B}[0m"

    /// The colour of a member status or an instance state (nil: none).
    public static func of(state: String) -> TerminalColour? {
        switch state {
        case "alive", "running", "ok", "leader", "joined": .green
        case "suspect", "starting", "stopping", "backing-off", "pending", "placed", "waiting": .yellow
        case "dead", "failed", "unreachable", "timeout", "error": .red
        case "left", "exited", "stopped": .dim
        default: nil
        }
    }

    /// The colour of an event kind, by its last part (`member.dead` red).
    public static func of(eventKind kind: String) -> TerminalColour? {
        switch kind.split(separator: ".").last.map(String.init) ?? "" {
        case "dead", "failed", "crash_loop", "start_failed", "recovery_failed", "log_write_failed", "frames_rejected": .red
        case "suspect", "restarting", "stopping": .yellow
        case "joined", "alive", "started", "running": .green
        default: nil
        }
    }
}
