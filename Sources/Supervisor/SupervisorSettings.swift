/// Every limit of the supervisor, with its default and the reason for it.
///
/// Per-workload values (restart policy, stop grace period) live in ``ProcessSpec``; these are
/// the node-wide ones. `SupervisorSettings.default(dataDirectory:)` is what the agent uses.
public struct SupervisorSettings: Sendable {
    /// Where `supervisor.json` (running instances, mode 0600) is kept across agent restarts.
    public var stateDirectory: String
    /// Where each instance gets a folder `<instance>/` holding `stdout.log`, `stderr.log`,
    /// their rotated predecessors (`stdout.log.1` …) and the two FIFOs the process writes to.
    public var logDirectory: String

    /// A log file is rotated when it would grow past this size. 10 MiB: a few minutes of a
    /// chatty service, small enough for a Raspberry Pi's SD card.
    public var logMaxFileBytes: Int = 10 << 20
    /// Files kept per stream, the live one included; the oldest is deleted on rotation.
    /// Disk use per stream is bounded by `logMaxFiles * logMaxFileBytes`.
    public var logMaxFiles: Int = 5
    /// Bytes read from a process's pipe per read call (one shared buffer for all instances).
    public var logReadChunkBytes: Int = 64 << 10
    /// The most bytes one write to an instance's stdin may carry (`meshctl attach` sends a
    /// line at a time): PIPE_BUF, so a write is whole or refused, never interleaved.
    public var maxStdinWriteBytes: Int = 4096
    /// Upper bound of bytes drained from a pipe synchronously when a process exits, so that
    /// its last lines are on disk before the exit event, without stalling on a writer that
    /// is still alive (a grandchild holding the pipe).
    public var logDrainOnExitBytes: Int = 4 << 20
    /// Buffered chunks per `follow` subscriber; the oldest are dropped for a slow reader.
    public var followBufferChunks: Int = 1024

    /// First restart delay; doubled on each consecutive restart.
    public var restartBackoffBase: Duration = .seconds(1)
    /// The restart delay never exceeds this.
    public var restartBackoffCap: Duration = .seconds(60)
    /// A process that ran at least this long before exiting starts the backoff afresh.
    public var restartBackoffResetAfter: Duration = .seconds(60)
    /// More restarts than this within `restartWindow` marks the instance `failed`.
    public var restartLimit: Int = 5
    /// The window over which `restartLimit` is counted.
    public var restartWindow: Duration = .seconds(600)

    /// Grace period between SIGTERM and SIGKILL when the spec names none (as Nomad/systemd).
    public var defaultStopGracePeriod: Duration = .seconds(10)
    /// How often an adopted process (no longer our child, so not reaped by us) is checked.
    public var adoptedPollInterval: Duration = .milliseconds(250)
    /// What to do, on agent start, with instances a previous agent left running.
    public var onRecovery: RecoveryAction = .adopt
    /// Events kept for a consumer that is behind; the oldest are dropped beyond it.
    public var eventBufferLimit: Int = 10_000

    public init(stateDirectory: String, logDirectory: String) {
        self.stateDirectory = stateDirectory
        self.logDirectory = logDirectory
    }

    /// The agent's layout: `<data>/supervisor/` for state and `<data>/logs/` for output.
    public static func `default`(dataDirectory: String) -> SupervisorSettings {
        SupervisorSettings(stateDirectory: dataDirectory + "/supervisor", logDirectory: dataDirectory + "/logs")
    }
}

/// What a starting agent does with processes that a previous agent started.
public enum RecoveryAction: String, Sendable, Codable {
    /// Keep them running and watch them (their exit code is then unknown: not our children).
    case adopt
    /// Stop them (SIGTERM to the group, grace period, SIGKILL).
    case stop
}
