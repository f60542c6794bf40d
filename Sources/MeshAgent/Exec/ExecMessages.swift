import Foundation

/// What `NodeQuery.execStart` asks a node: run `command` (in `instance`'s working directory
/// and environment when named), kill its process group after `timeoutSeconds`.
struct ExecStart: Codable, Sendable, Equatable {
    var command: [String]
    var instance: String?
    var timeoutSeconds: Int
    /// Who asked (`by`, `client`, `user`), for the node's `exec.finished` event.
    var requester: [String: String]
}

/// What `NodeQuery.execPoll` asks: the output of `session` from these stream offsets (the
/// bytes before them are acknowledged and dropped by the node).
struct ExecPoll: Codable, Sendable, Equatable {
    var session: String
    var stdout: UInt64
    var stderr: UInt64
}

/// Where a command stands (`ExecOutputInfo.status`).
enum ExecStatus: String, Codable, Sendable, Equatable {
    case running
    case exited
    /// A signal ended it (not the agent's).
    case killed
    /// The agent killed its process group at the timeout.
    case timeout
    /// Its reader cancelled it or went away (`AgentLimits.execAbandonAfter`).
    case cancelled
}

/// A node's answer to `execPoll`: output from the offsets asked, and how the command stands.
struct ExecChunk: Codable, Sendable, Equatable {
    var stdout: Data
    var stderr: Data
    var stdoutNext: UInt64
    var stderrNext: UInt64
    var status: ExecStatus
    var exitCode: Int32?
    var signal: Int32?
    var truncated: Bool
    var seconds: Double?
    /// The status is final and nothing is left to read.
    var done: Bool
}

/// Why an `exec`, `attach` or stdin request was refused: each with what the person needs to
/// act, an HTTP status and a reason counted in `meshd_exec_refused_total{reason}`.
enum ExecRefusal: Error, Codable, Sendable, Equatable, CustomStringConvertible {
    case badRequest(String)
    case tooMany(limit: Int)
    case commandNotFound(String)
    case unknownInstance(String)
    case unknownSession(String)
    case noStdin(String)
    case stdinUnavailable(String)

    var reason: String {
        switch self {
        case .badRequest: "bad_request"
        case .tooMany: "too_many_execs"
        case .commandNotFound: "command_not_found"
        case .unknownInstance: "unknown_instance"
        case .unknownSession: "unknown_session"
        case .noStdin: "no_stdin"
        case .stdinUnavailable: "stdin_unavailable"
        }
    }

    static let allReasons = ["bad_request", "too_many_execs", "command_not_found", "unknown_instance", "unknown_session",
                             "no_stdin", "stdin_unavailable"]

    var description: String {
        switch self {
        case let .badRequest(why), let .commandNotFound(why), let .unknownInstance(why), let .unknownSession(why),
             let .noStdin(why), let .stdinUnavailable(why):
            why
        case let .tooMany(limit):
            "this node runs \(limit) commands for exec already (the limit); try again when one has ended"
        }
    }
}

/// The checks of an exec request's input, shared by the agent that takes the request and
/// the node that runs it (pure).
enum ExecLimits {
    /// The command as given, its timeout (the default when nil) or why it is refused.
    static func check(command: [String], timeoutSeconds: Int?,
                      defaultTimeoutSeconds: Int = AgentLimits.defaultExecTimeoutSeconds) throws(ExecRefusal) -> Int {
        guard let program = command.first, !program.isEmpty else {
            throw .badRequest("no command: give the program and its arguments, e.g. meshctl exec NODE -- uptime")
        }
        let bytes = command.reduce(0) { $0 + $1.utf8.count + 1 }
        guard bytes <= AgentLimits.maxExecCommandBytes else {
            throw .badRequest("the command is \(bytes) bytes; at most \(AgentLimits.maxExecCommandBytes) (put a long script in a file)")
        }
        guard !command.contains(where: { $0.utf8.contains(0) }) else {
            throw .badRequest("the command holds a NUL byte, which no argument can carry")
        }
        let timeout = timeoutSeconds ?? defaultTimeoutSeconds
        guard (1 ... AgentLimits.maxExecTimeoutSeconds).contains(timeout) else {
            throw .badRequest("timeout \(timeout) s: give 1-\(AgentLimits.maxExecTimeoutSeconds) seconds")
        }
        return timeout
    }

    /// `KEY=VALUE` of `--tag`.
    static func tag(_ text: String) throws(ExecRefusal) -> (key: String, value: String) {
        guard let eq = text.firstIndex(of: "="), eq != text.startIndex else {
            throw .badRequest("tag \(text): KEY=VALUE, e.g. --tag zone=eu")
        }
        return (String(text[..<eq]), String(text[text.index(after: eq)...]))
    }

    /// The command line for an event: whole when short, else cut at `AgentLimits.execEventCommandBytes`.
    static func eventText(_ command: [String]) -> String {
        let line = command.map { $0.contains(" ") || $0.isEmpty ? "'\($0)'" : $0 }.joined(separator: " ")
        guard line.utf8.count > AgentLimits.execEventCommandBytes else { return line }
        var cut = Substring(line)
        while cut.utf8.count > AgentLimits.execEventCommandBytes - 3 { cut = cut.dropLast() }
        return cut + "..."
    }
}
