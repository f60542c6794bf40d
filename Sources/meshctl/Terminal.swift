import Dispatch
import Foundation
import MeshClient
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where meshctl's output goes: the style of its human output (decided once, from the
/// terminal and the environment), and how a follow mode ends on Ctrl-C.
enum Terminal {
    /// The style of this run's human output: `OutputStyle.detect` on stdout.
    static let style: OutputStyle = OutputStyle.detect(
        environment: ProcessInfo.processInfo.environment, stdoutIsTerminal: isatty(STDOUT_FILENO) == 1,
        terminalColumns: columns())

    /// The terminal's width from `TIOCGWINSZ`, nil when stdout is not a terminal.
    private static func columns() -> Int? {
        var size = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
        return Int(size.ws_col)
    }

    /// The exit status of a follow mode ended by Ctrl-C (128 + SIGINT, as a shell reports it).
    static let interruptedStatus: Int32 = 130


    /// For `-f` modes, which only end when the user stops them: SIGINT (Ctrl-C) and SIGTERM
    /// end meshctl with status 130 or 143 and no trace. What was printed is flushed, a colour
    /// left open is reset, and the process leaves with `_exit`, so no library's teardown
    /// runs under a request still in flight. meshctl never changes the terminal's modes,
    /// so there is nothing else to restore.
    static func endFollowCleanlyOnInterrupt() {
        guard signalSources.isEmpty else { return }
        var sources: [any DispatchSourceSignal] = []
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: DispatchQueue(label: "meshctl.signal"))
            source.setEventHandler {
                fflush(nil)
                if style.colour { _ = TerminalColour.reset.withCString { write(STDOUT_FILENO, $0, strlen($0)) } }
                _exit(128 + signalNumber)
            }
            source.resume()
            sources.append(source)
        }
        signalSources = sources
    }

    /// The signal handlers, kept for the process's life once a follow mode starts (set
    /// once, from the command's task, before any signal can arrive).
    nonisolated(unsafe) private static var signalSources: [any DispatchSourceSignal] = []

    /// One JSON document as the agent writes it (sorted keys, slashes unescaped), one line.
    static func jsonLine(_ value: some Encodable) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return ((try? encoder.encode(value)) ?? Data("null".utf8)) + Data("\n".utf8)
    }
}
