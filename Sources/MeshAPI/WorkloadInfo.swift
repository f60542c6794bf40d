/// `POST /v1/workloads` body (`meshctl run`): a workload for the scheduler to keep running.
public struct WorkloadSubmitRequest: Codable, Sendable, Equatable {
    public var name: String
    /// The program and its arguments (templates `{{instance}}`, `{{node}}`, `{{name}}`, `{{peers}}`).
    public var command: [String]
    public var env: [String: String]?
    /// Working directory on every node (must exist there).
    public var dir: String?
    /// Instances (default 1).
    public var count: Int?
    /// CPU millicores and memory MB reserved per instance (default 0).
    public var cpu: Int?
    public var mem: Int?
    /// `KEY=VALUE`, `KEY!=VALUE`, `KEY in A,B` (KEY: `name`, `arch` or a tag).
    public var constraints: [String]?
    /// `spread` (default) or `binpack`.
    public var strategy: String?
    /// `always`, `on-failure` (default), `never`.
    public var restart: String?
    /// Seconds a node may be unreachable before its instances are placed elsewhere (default 30).
    public var rescheduleAfter: Double?
    /// `keep_original`, `keep_replacement` (default), `longest_running`.
    public var onHeal: String?
    /// Restart an instance when its `{{peers}}` change.
    public var restartOnPeerChange: Bool?
    /// Seconds a node that sees no majority of voters keeps the instances running before it
    /// stops them (default: it keeps them).
    public var stopAfterDisconnect: Double?
    /// A git repository each node fetches into the instance's directory before starting it,
    /// and the ref to check out (default `HEAD`).
    public var git: String?
    public var ref: String?

    public init(name: String, command: [String], env: [String: String]? = nil, dir: String? = nil, count: Int? = nil,
                cpu: Int? = nil, mem: Int? = nil, constraints: [String]? = nil, strategy: String? = nil, restart: String? = nil,
                rescheduleAfter: Double? = nil, onHeal: String? = nil, restartOnPeerChange: Bool? = nil,
                stopAfterDisconnect: Double? = nil, git: String? = nil, ref: String? = nil) {
        self.name = name; self.command = command; self.env = env; self.dir = dir; self.count = count; self.cpu = cpu
        self.mem = mem; self.constraints = constraints; self.strategy = strategy; self.restart = restart
        self.rescheduleAfter = rescheduleAfter; self.onHeal = onHeal; self.restartOnPeerChange = restartOnPeerChange
        self.stopAfterDisconnect = stopAfterDisconnect; self.git = git; self.ref = ref
    }

    enum CodingKeys: String, CodingKey {
        case name, command, env, dir, count, cpu, mem, constraints, strategy, restart, git, ref
        case rescheduleAfter = "reschedule_after", onHeal = "on_heal", restartOnPeerChange = "restart_on_peer_change"
        case stopAfterDisconnect = "stop_after_disconnect"
    }
}

/// `POST /v1/workloads/:name/scale` body.
public struct WorkloadScaleRequest: Codable, Sendable, Equatable {
    public var count: Int
    public init(count: Int) { self.count = count }
}

/// One committed placement: `placement` (`p7`) of `workload.instance` on `node`.
public struct PlacementInfo: Codable, Sendable, Equatable {
    public var placement: String
    public var instance: Int
    public var node: String
    /// ISO 8601: the leader's wall time when it placed it.
    public var placedAt: String
    /// The log index that placed it.
    public var index: UInt64
    /// The placement it replaced (its node was lost or it crash-looped there).
    public var replaces: String?
    /// The restart generation it runs at.
    public var generation: UInt64
    /// ISO 8601: when its instance's process started, as its node reported it (what
    /// `on_heal: longest_running` compares); nil before the first report.
    public var startedAt: String?

    public init(placement: String, instance: Int, node: String, placedAt: String, index: UInt64, replaces: String?, generation: UInt64,
                startedAt: String? = nil) {
        self.placement = placement; self.instance = instance; self.node = node; self.placedAt = placedAt
        self.index = index; self.replaces = replaces; self.generation = generation; self.startedAt = startedAt
    }

    enum CodingKeys: String, CodingKey {
        case placement, instance, node, index, replaces, generation
        case placedAt = "placed_at", startedAt = "started_at"
    }
}

/// An instance the scheduler cannot place now, and why.
public struct PendingInfo: Codable, Sendable, Equatable {
    public var instance: Int
    public var reason: String
    public init(instance: Int, reason: String) { self.instance = instance; self.reason = reason }
}

/// `GET /v1/workloads[/:name]`: a workload's spec, placements and pending instances.
public struct WorkloadInfo: Codable, Sendable, Equatable {
    public var name: String
    public var command: [String]
    public var count: Int
    public var cpu: Int
    public var mem: Int
    public var constraints: [String]
    public var strategy: String
    public var restart: String
    public var rescheduleAfter: Double?
    public var onHeal: String
    public var stopAfterDisconnect: Double?
    public var git: String?
    public var ref: String?
    /// Raised by each `meshctl restart`.
    public var generation: UInt64
    /// The log index that submitted it.
    public var submittedIndex: UInt64
    public var placements: [PlacementInfo]
    public var pending: [PendingInfo]

    public init(name: String, command: [String], count: Int, cpu: Int, mem: Int, constraints: [String], strategy: String,
                restart: String, rescheduleAfter: Double?, onHeal: String, generation: UInt64, submittedIndex: UInt64,
                placements: [PlacementInfo], pending: [PendingInfo], stopAfterDisconnect: Double? = nil, git: String? = nil,
                ref: String? = nil) {
        self.stopAfterDisconnect = stopAfterDisconnect; self.git = git; self.ref = ref
        self.name = name; self.command = command; self.count = count; self.cpu = cpu; self.mem = mem
        self.constraints = constraints; self.strategy = strategy; self.restart = restart; self.rescheduleAfter = rescheduleAfter
        self.onHeal = onHeal; self.generation = generation; self.submittedIndex = submittedIndex
        self.placements = placements; self.pending = pending
    }

    enum CodingKeys: String, CodingKey {
        case name, command, count, cpu, mem, constraints, strategy, restart, generation, placements, pending, git, ref
        case rescheduleAfter = "reschedule_after", onHeal = "on_heal", submittedIndex = "submitted_index"
        case stopAfterDisconnect = "stop_after_disconnect"
    }
}

/// One node's verdict in `meshctl why`.
public struct CandidateInfo: Codable, Sendable, Equatable {
    public var node: String
    /// Why it cannot take an instance now; nil for a candidate.
    public var excluded: String?
    /// A candidate's room left after one more instance (0-2: CPU and memory fractions).
    public var score: Double?
    /// Instances of the workload it holds.
    public var instances: Int

    public init(node: String, excluded: String?, score: Double?, instances: Int) {
        self.node = node; self.excluded = excluded; self.score = score; self.instances = instances
    }
}

/// `GET /v1/workloads/:name/why`: where the scheduler would place an instance and why.
public struct WhyInfo: Codable, Sendable, Equatable {
    public var workload: String
    public var instance: Int?
    /// Candidates first, in the order the strategy picks them, then excluded nodes.
    public var candidates: [CandidateInfo]
    /// The instance's current placement (with `instance`).
    public var placement: PlacementInfo?
    /// Why the instance (or each pending one) is not placed.
    public var pending: [PendingInfo]
    /// What last moved the instance: the log entry that placed it, and the stop it followed.
    public var lastMove: String?

    public init(workload: String, instance: Int?, candidates: [CandidateInfo], placement: PlacementInfo?,
                pending: [PendingInfo], lastMove: String?) {
        self.workload = workload; self.instance = instance; self.candidates = candidates; self.placement = placement
        self.pending = pending; self.lastMove = lastMove
    }

    enum CodingKeys: String, CodingKey {
        case workload, instance, candidates, placement, pending
        case lastMove = "last_move"
    }
}
