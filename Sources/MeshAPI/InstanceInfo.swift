/// `POST /v1/local/instances` body: one process for this node's supervisor to run (local
/// control until the scheduler places workloads).
public struct InstanceStartRequest: Codable, Sendable, Equatable {
    /// The workload's name: 1-64 letters, digits, `-` or `_` (no `.`: `NAME.INSTANCE` is the id).
    public var name: String
    /// The instance within the workload (default `0`), same characters as `name`.
    public var instance: String?
    /// A path or a name looked up in the agent's PATH.
    public var command: String
    public var args: [String]?
    /// Added to (and overriding) the agent's environment.
    public var env: [String: String]?
    /// Must exist; default the agent's working directory.
    public var workdir: String?
    /// `always`, `on-failure` (default) or `never`.
    public var restart: String?
    /// SIGTERM-to-SIGKILL grace period in seconds (default 10).
    public var graceSeconds: Double?
    /// Keep running when the agent stops, for the next agent to adopt (default false).
    public var surviveAgent: Bool?
    /// Give it a stdin that `meshctl attach` writes to (default false: /dev/null).
    public var stdin: Bool?

    public init(name: String, instance: String? = nil, command: String, args: [String]? = nil,
                env: [String: String]? = nil, workdir: String? = nil, restart: String? = nil,
                graceSeconds: Double? = nil, surviveAgent: Bool? = nil, stdin: Bool? = nil) {
        self.name = name; self.instance = instance; self.command = command; self.args = args; self.env = env
        self.workdir = workdir; self.restart = restart; self.graceSeconds = graceSeconds; self.surviveAgent = surviveAgent
        self.stdin = stdin
    }

    enum CodingKeys: String, CodingKey {
        case name, instance, command, args, env, workdir, restart, stdin
        case graceSeconds = "grace_seconds", surviveAgent = "survive_agent"
    }
}

/// One instance as `GET /v1/instances`, `GET /v1/local/instances` and `meshctl ps --json`
/// show it (the `ps` columns: workload, instance, node, state, pid, restarts, started, cpu, rss).
///
/// A node that did not answer in time is one row with `state` = `unreachable` and empty
/// `workload` and `instance`, so a missing node is never mistaken for one that runs nothing.
public struct InstanceRow: Codable, Sendable, Equatable {
    public var workload: String
    public var instance: String
    public var node: String
    /// `starting`, `running`, `stopping`, `backing-off`, `exited`, `stopped`, `failed`,
    /// `unreachable` (the node did not answer), or for the scheduler's instances not
    /// reported by a node: `pending` (`detail`: why it is not placed) and `placed` (placed
    /// on a node that did not list it yet, or that is unreachable).
    public var state: String
    public var pid: Int32?
    public var restarts: Int
    /// When its process started (the kernel's start time, so an adopted process keeps the
    /// time a previous agent started it), ISO 8601; about 1 s precise.
    public var started: String?
    /// CPU use over the last stats interval, in % of one core (main process and children).
    public var cpu: Double?
    /// Resident memory in bytes (main process and children).
    public var rss: UInt64?
    /// How it ended (`exit code 3`, `killed by signal 9`), or why it failed.
    public var detail: String?
    public var adopted: Bool
    public var command: String
    /// The scheduler's placement it runs for (`p7`); nil for `meshctl local run` instances.
    public var placement: String?

    public init(workload: String, instance: String, node: String, state: String, pid: Int32?, restarts: Int,
                started: String?, cpu: Double?, rss: UInt64?, detail: String?, adopted: Bool, command: String,
                placement: String? = nil) {
        self.workload = workload; self.instance = instance; self.node = node; self.state = state; self.pid = pid
        self.restarts = restarts; self.started = started; self.cpu = cpu; self.rss = rss; self.detail = detail
        self.adopted = adopted; self.command = command; self.placement = placement
    }

    /// `NAME.INSTANCE`.
    public var id: String { instance.isEmpty ? workload : "\(workload).\(instance)" }
}

/// `DELETE /v1/local/instances/NAME.INSTANCE` answer: how the process ended.
public struct InstanceStopResult: Codable, Sendable, Equatable {
    public var instance: String
    /// `exit code 0`, `killed by signal 9`, or `not running`.
    public var result: String
    public var seconds: Double
    public init(instance: String, result: String, seconds: Double) {
        self.instance = instance; self.result = result; self.seconds = seconds
    }
}

/// One piece of an instance's output, as `GET /v1/logs/NAME.INSTANCE?format=json` answers
/// it (the plain answer is the bytes themselves). Pass `cursor` back as `?cursor=` to get
/// what follows: that is how `meshctl logs -f` follows from any node.
public struct LogChunkInfo: Codable, Sendable, Equatable {
    public var node: String
    public var instance: String
    public var stream: String
    public var text: String
    /// Where the next read continues: the number of bytes the stream had received before
    /// that position, counted across rotations (so it names the same byte on every read).
    public var cursor: String
    /// True when output between the cursor asked for and `text` was lost to rotation.
    public var gap: Bool
    /// With `gap`: the stream offset `text` starts at (the oldest byte kept), where the
    /// cursor asked for (`asked`) had been rotated away.
    public var resumedAt: UInt64?
    /// The cursor's offset that was asked for, if any.
    public var asked: UInt64?

    enum CodingKeys: String, CodingKey {
        case node, instance, stream, text, cursor, gap, asked
        case resumedAt = "resumed_at"
    }

    public init(node: String, instance: String, stream: String, text: String, cursor: String, gap: Bool,
                resumedAt: UInt64? = nil, asked: UInt64? = nil) {
        self.node = node; self.instance = instance; self.stream = stream; self.text = text
        self.cursor = cursor; self.gap = gap; self.resumedAt = resumedAt; self.asked = asked
    }

    /// What a reader is told when `gap` is set.
    public var gapMessage: String? {
        guard gap else { return nil }
        let lost = asked.map { "byte \($0) is no longer kept" } ?? "output was lost"
        let at = resumedAt.map { "byte \($0)" } ?? "the oldest byte kept"
        return "\(instance) \(stream): log truncated by rotation, \(lost); resuming at \(at)"
    }
}
