/// Why the supervisor could not do what it was asked; each message says what to do.
public enum SupervisorError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidInstanceName(String)
    case commandNotFound(String)
    case notExecutable(String)
    case workingDirectoryMissing(String)
    case unknownUser(String)
    case logDirectoryUnwritable(path: String, reason: String)
    case spawnFailed(command: String, reason: String)
    case alreadyRunning(InstanceID)
    case unknownInstance(InstanceID)
    case stateFile(path: String, reason: String)
    case detached
    /// What had to happen before the start failed (the agent's step, e.g. fetching the
    /// workload's git source); the reason says what.
    case preparationFailed(String)
    /// The instance was started without `openStdin`: it reads /dev/null.
    case noStdin(InstanceID)
    /// Its stdin cannot take the bytes now (not running, full, too many at once).
    case stdinUnavailable(InstanceID, reason: String)

    public var description: String {
        switch self {
        case let .invalidInstanceName(name):
            "invalid instance name '\(name)': use 1-128 letters, digits, '.', '-' or '_'"
        case let .commandNotFound(command):
            "command '\(command)' not found: give an absolute path or install it in the agent's PATH"
        case let .notExecutable(command):
            "'\(command)' is not executable: chmod +x it or run it through an interpreter"
        case let .workingDirectoryMissing(path):
            "working directory '\(path)' does not exist: create it or fix the workload's working directory"
        case let .unknownUser(user):
            "user '\(user)' does not exist on this node: create it or drop the workload's user"
        case let .logDirectoryUnwritable(path, reason):
            "cannot write logs in '\(path)' (\(reason)): check its permissions and free disk space"
        case let .spawnFailed(command, reason):
            "could not start '\(command)': \(reason)"
        case let .alreadyRunning(id):
            "instance \(id) is already running: stop it first or pick another instance name"
        case let .unknownInstance(id):
            "no instance \(id) on this node: list instances to see what runs here"
        case .detached:
            "the supervisor has let go of its processes (agent shutting down): start it on the next agent"
        case let .preparationFailed(reason):
            "not started: \(reason)"
        case let .noStdin(id):
            "instance \(id) was started without stdin: start it with `meshctl local run --stdin` to send it input"
        case let .stdinUnavailable(id, reason):
            "cannot write to the stdin of \(id): \(reason)"
        case let .stateFile(path, reason):
            "supervisor state file '\(path)': \(reason); check the data directory's permissions and free space"
        }
    }
}
