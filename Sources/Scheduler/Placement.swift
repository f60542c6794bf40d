import MeshCore

/// One instance of a workload: `web.2` is instance 2 of `web`.
public struct InstanceSlot: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var workload: String
    public var instance: Int
    public init(_ workload: String, _ instance: Int) { self.workload = workload; self.instance = instance }
    public static func < (a: InstanceSlot, b: InstanceSlot) -> Bool { (a.workload, a.instance) < (b.workload, b.instance) }
    public var description: String { "\(workload).\(instance)" }
}

/// Identifies one committed placement. The replicated state hands them out in commit
/// order, so a placement is never started twice: a node starts what its replica says,
/// once per id.
public struct PlacementID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var value: UInt64
    public init(_ value: UInt64) { self.value = value }
    public static func < (a: PlacementID, b: PlacementID) -> Bool { a.value < b.value }
    public var description: String { "p\(value)" }
}

/// A committed decision: this slot runs on this node.
public struct Placement: Sendable, Equatable {
    public var id: PlacementID
    public var slot: InstanceSlot
    public var node: NodeID
    /// When it was committed (`keep_original`, `keep_replacement`; `longest_running` before
    /// its node reported a process start time).
    public var placedAt: MeshTime
    /// The placement it replaced because that one's node was lost.
    public var replaces: PlacementID?

    public init(id: PlacementID, slot: InstanceSlot, node: NodeID, placedAt: MeshTime, replaces: PlacementID? = nil) {
        self.id = id; self.slot = slot; self.node = node; self.placedAt = placedAt; self.replaces = replaces
    }
}

/// An instance that exhausted its restarts on a node: the slot moves, and the node is
/// avoided for the workload for `SchedulerSettings.crashLoopAvoidance`.
public struct CrashLoop: Sendable, Equatable {
    public var slot: InstanceSlot
    public var node: NodeID
    public var at: MeshTime
    public init(slot: InstanceSlot, node: NodeID, at: MeshTime) { self.slot = slot; self.node = node; self.at = at }
}

/// Everything placement depends on. `workloads` are in submission order: first come,
/// first placed.
public struct SchedulerInput: Sendable {
    public var workloads: [WorkloadSpec]
    public var nodes: [SchedulerNode]
    public var placements: [Placement]
    public var crashLoops: [CrashLoop]
    /// Nodes too hot for new placements (`HeatGate`).
    public var hot: Set<NodeID>
    /// When the process of each placement's instance started, as its node reported it
    /// (`on_heal: longest_running`).
    public var startedAt: [PlacementID: MeshTime]

    public init(workloads: [WorkloadSpec], nodes: [SchedulerNode], placements: [Placement],
                crashLoops: [CrashLoop] = [], hot: Set<NodeID> = [], startedAt: [PlacementID: MeshTime] = [:]) {
        self.workloads = workloads; self.nodes = nodes; self.placements = placements
        self.crashLoops = crashLoops; self.hot = hot; self.startedAt = startedAt
    }
}

/// What the leader commits after a planning round.
public struct SchedulerPlan: Sendable, Equatable {
    public struct Place: Sendable, Equatable {
        public var slot: InstanceSlot
        public var node: NodeID
        public var replaces: PlacementID?
        public init(slot: InstanceSlot, node: NodeID, replaces: PlacementID? = nil) {
            self.slot = slot; self.node = node; self.replaces = replaces
        }
    }

    public enum StopReason: Sendable, Equatable, CustomStringConvertible {
        case scaledDown
        case workloadRemoved
        /// Two instances of one slot run after a partition healed; `kept` stays.
        case surplusAfterHeal(kept: PlacementID, policy: WorkloadSpec.OnHeal)
        /// Its node left the mesh (the record goes; nothing runs there).
        case nodeLeft
        /// It exhausted its restarts on this node.
        case crashLoop

        public var description: String {
            switch self {
            case .scaledDown: "scaled down"
            case .workloadRemoved: "workload removed"
            case let .surplusAfterHeal(kept, policy): "surplus after the partition healed: \(kept) kept (\(policy.rawValue))"
            case .nodeLeft: "its node left the mesh"
            case .crashLoop: "restarts exhausted on this node"
            }
        }
    }

    public struct Stop: Sendable, Equatable {
        public var placement: PlacementID
        public var slot: InstanceSlot
        public var node: NodeID
        public var reason: StopReason
    }

    public struct Pending: Sendable, Equatable {
        public var slot: InstanceSlot
        public var reason: String
    }

    public var place: [Place] = []
    public var stop: [Stop] = []
    public var pending: [Pending] = []

    public var isEmpty: Bool { place.isEmpty && stop.isEmpty }
}
