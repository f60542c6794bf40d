/// How a process ended.
public enum ExitStatus: Sendable, Equatable, Codable, CustomStringConvertible {
    /// It called exit(code).
    case exited(code: Int32)
    /// A signal ended it (e.g. 9 after SIGKILL).
    case signaled(signal: Int32)
    /// It was adopted from a previous agent, so not our child: the kernel reported its
    /// status to someone else.
    case unknown

    public var isSuccess: Bool { self == .exited(code: 0) }

    public var description: String {
        switch self {
        case let .exited(code): "exit code \(code)"
        case let .signaled(signal): "killed by signal \(signal)"
        case .unknown: "exit status unknown (adopted process)"
        }
    }
}

/// Which of a process's outputs.
public enum OutputStream: String, Sendable, Codable, CaseIterable {
    case stdout, stderr
}

/// One state change of one instance, delivered in order on ``Supervisor/events``, for the
/// agent to append to the event log.
public struct SupervisorEvent: Sendable, Equatable, CustomStringConvertible {
    /// What happened.
    public enum Kind: Sendable, Equatable {
        /// The process runs (its pid is also its process group id).
        case started(pid: Int32)
        /// It ended by itself (not asked to stop).
        case exited(ExitStatus)
        /// It will be started again after `delay`; `attempt` counts consecutive restarts.
        case restarting(attempt: Int, delay: Duration)
        /// Restarted too often (or could not be restarted): left stopped until started again.
        case failed(reason: String)
        /// It ended after a stop request; nil when nothing was running (stopped during backoff).
        case stopped(ExitStatus?)
        /// A previous agent's process, found alive and watched again.
        case adopted(pid: Int32)
        /// It could not be started; the supervisor keeps running.
        case startFailed(SupervisorError)
        /// Its output could not be written (disk full, permissions); output is dropped until
        /// writing works again, and the process is not blocked.
        case logWriteFailed(stream: OutputStream, reason: String)
        /// Writing its output works again after `logWriteFailed`.
        case logWriteRecovered(stream: OutputStream)
        /// The state file could not be saved after this instance changed: a restarted agent
        /// may not find it. Processes keep running.
        case stateNotSaved(reason: String)
    }

    public let instance: InstanceID
    public let kind: Kind
    /// Who asked for this change (a start or stop request's requester), added to
    /// ``attributes``; empty for what the supervisor did by itself (restarts, exits).
    public let requestedBy: [String: String]

    public init(instance: InstanceID, kind: Kind, requestedBy: [String: String] = [:]) {
        self.instance = instance; self.kind = kind; self.requestedBy = requestedBy
    }

    /// A short event-log kind, e.g. `instance.started`.
    public var name: String {
        switch kind {
        case .started: "instance.started"
        case .exited: "instance.exited"
        case .restarting: "instance.restarting"
        case .failed: "instance.failed"
        case .stopped: "instance.stopped"
        case .adopted: "instance.adopted"
        case .startFailed: "instance.start_failed"
        case .logWriteFailed: "instance.log_write_failed"
        case .logWriteRecovered: "instance.log_write_recovered"
        case .stateNotSaved: "instance.state_not_saved"
        }
    }

    /// Longest attribute value, in UTF-8 bytes: the event log caps an event's attributes at
    /// 900 bytes in total, and a long path in an error message must not push it over.
    public static let maxAttributeValueBytes = 300

    /// Flat string attributes for the event log (values cut to `maxAttributeValueBytes`).
    public var attributes: [String: String] {
        rawAttributes.mapValues { value in
            guard value.utf8.count > Self.maxAttributeValueBytes else { return value }
            var cut = ""
            for ch in value {
                if cut.utf8.count + String(ch).utf8.count > Self.maxAttributeValueBytes - 3 { break }
                cut.append(ch)
            }
            return cut + "..."
        }
    }

    private var rawAttributes: [String: String] {
        var a = requestedBy
        a["instance"] = instance.rawValue
        switch kind {
        case let .started(pid), let .adopted(pid): a["pid"] = String(pid)
        case let .exited(status): a.merge(status.attributes) { $1 }
        case let .restarting(attempt, delay):
            a["attempt"] = String(attempt); a["delay_ms"] = String(delay.nanoseconds / 1_000_000)
        case let .failed(reason): a["reason"] = reason
        case let .stopped(status): if let status { a.merge(status.attributes) { $1 } }
        case let .startFailed(error): a["error"] = error.description
        case let .logWriteFailed(stream, reason): a["stream"] = stream.rawValue; a["reason"] = reason
        case let .logWriteRecovered(stream): a["stream"] = stream.rawValue
        case let .stateNotSaved(reason): a["reason"] = reason
        }
        return a
    }

    public var description: String {
        "\(name) \(attributes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))"
    }
}

extension ExitStatus {
    var attributes: [String: String] {
        switch self {
        case let .exited(code): ["exit_code": String(code)]
        case let .signaled(signal): ["signal": String(signal)]
        case .unknown: ["exit": "unknown"]
        }
    }
}

/// Where an instance is in its life.
public enum InstanceState: Sendable, Equatable, Codable {
    /// Being spawned.
    case starting
    case running(pid: Int32)
    /// Asked to stop: SIGTERM sent, SIGKILL follows after the grace period.
    case stopping(pid: Int32)
    /// Waiting `delay` before restart `attempt`.
    case backingOff(attempt: Int, delay: Duration)
    /// Ended by itself and not restarted (policy).
    case exited(ExitStatus)
    case stopped(ExitStatus?)
    case failed(reason: String)

    /// True while a process runs or will run without being asked again.
    public var isActive: Bool {
        switch self {
        case .starting, .running, .stopping, .backingOff: true
        case .exited, .stopped, .failed: false
        }
    }
}

/// A snapshot of one instance for listing.
public struct InstanceInfo: Sendable, Equatable, Codable {
    public let id: InstanceID
    public let spec: ProcessSpec
    public let state: InstanceState
    /// True when a previous agent started it and this one adopted it.
    public let adopted: Bool
    /// Restarts since it was last started by request.
    public let restarts: Int
    /// While a process runs: when the kernel started it (wall-clock milliseconds since the
    /// epoch, from its start time in /proc and the boot time; about 1 s precise), whoever
    /// started it (this agent or, for an adopted one, a previous agent). nil otherwise or
    /// when /proc does not tell.
    public let processStartedAtMilliseconds: UInt64?
}
