/// The name of one supervised instance, e.g. `web.0`: unique on this node.
public struct InstanceID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let rawValue: String

    /// Instance names become folder names: letters, digits, `.`, `-`, `_`; 1 to 128 characters.
    public init(_ rawValue: String) throws(SupervisorError) {
        let allowed = rawValue.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
                || c == UInt8(ascii: ".") || c == UInt8(ascii: "-") || c == UInt8(ascii: "_")
        }
        guard allowed, !rawValue.isEmpty, rawValue.utf8.count <= 128, rawValue != ".", rawValue != ".." else {
            throw .invalidInstanceName(rawValue)
        }
        self.rawValue = rawValue
    }

    public init(stringLiteral value: String) { try! self.init(value) }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        try self.init(text)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer(); try c.encode(rawValue)
    }

    public var description: String { rawValue }
    public static func < (a: InstanceID, b: InstanceID) -> Bool { a.rawValue < b.rawValue }
}

/// When an instance that exited by itself is started again.
public enum RestartPolicy: String, Sendable, Codable {
    /// After every exit, whatever its status.
    case always
    /// After an exit with a non-zero code, a signal, or an unknown status (an adopted process).
    case onFailure = "on-failure"
    /// Never: the instance stays `exited`.
    case never
}

/// What to run: command, arguments, environment, working directory, user, and how to keep it.
public struct ProcessSpec: Sendable, Codable, Equatable {
    /// A path (`/usr/bin/python3`, `./run.sh` relative to `workingDirectory`) or a name
    /// looked up in `PATH`.
    public var command: String
    public var arguments: [String]
    /// Added to (and overriding) the agent's own environment.
    public var environment: [String: String]
    /// Must exist; nil runs in the agent's working directory.
    public var workingDirectory: String?
    /// A user name to run as (needs the agent to run as root); nil keeps the agent's user.
    public var user: String?
    public var restartPolicy: RestartPolicy
    /// SIGTERM-to-SIGKILL grace period when stopping; nil uses the supervisor's default.
    public var stopGracePeriod: Duration?
    /// Keep running when the agent stops (for the next agent to adopt); false stops it with
    /// the agent (``Supervisor/shutdown()``).
    public var survivesAgent: Bool
    /// Give the process a FIFO as its stdin (`logs/<instance>/stdin.fifo`) that
    /// ``Supervisor/writeStdin(_:_:)`` writes to (`meshctl attach`); false gives it /dev/null.
    /// The process holds the FIFO open itself, so its reads block rather than end.
    public var openStdin: Bool

    public init(command: String, arguments: [String] = [], environment: [String: String] = [:],
                workingDirectory: String? = nil, user: String? = nil,
                restartPolicy: RestartPolicy = .onFailure, stopGracePeriod: Duration? = nil,
                survivesAgent: Bool = false, openStdin: Bool = false) {
        self.command = command
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.user = user
        self.restartPolicy = restartPolicy
        self.stopGracePeriod = stopGracePeriod
        self.survivesAgent = survivesAgent
        self.openStdin = openStdin
    }

    private enum CodingKeys: String, CodingKey {
        case command, arguments, environment, workingDirectory, user, restartPolicy, stopGracePeriod, survivesAgent, openStdin
    }

    /// Decodes state files written before `survivesAgent` or `openStdin` existed (they are then false).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        command = try c.decode(String.self, forKey: .command)
        arguments = try c.decode([String].self, forKey: .arguments)
        environment = try c.decode([String: String].self, forKey: .environment)
        workingDirectory = try c.decodeIfPresent(String.self, forKey: .workingDirectory)
        user = try c.decodeIfPresent(String.self, forKey: .user)
        restartPolicy = try c.decode(RestartPolicy.self, forKey: .restartPolicy)
        stopGracePeriod = try c.decodeIfPresent(Duration.self, forKey: .stopGracePeriod)
        survivesAgent = try c.decodeIfPresent(Bool.self, forKey: .survivesAgent) ?? false
        openStdin = try c.decodeIfPresent(Bool.self, forKey: .openStdin) ?? false
    }

    /// `/bin/sh -c script`: what tests and quick experiments use.
    public static func shell(_ script: String, restartPolicy: RestartPolicy = .never,
                             stopGracePeriod: Duration? = nil) -> ProcessSpec {
        ProcessSpec(command: "/bin/sh", arguments: ["-c", script], restartPolicy: restartPolicy,
                    stopGracePeriod: stopGracePeriod)
    }
}
