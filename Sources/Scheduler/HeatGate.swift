import MeshCore

/// Which nodes are too hot for new placements, with hysteresis: a node becomes hot at
/// `hotCelsius` or when it reports CPU throttling, and cools only when it is back at or
/// below `coolCelsius` *and* has reported no throttling for `throttleClearAfter` (a
/// boolean has no band to hold it, so time is the hysteresis there), so a node hovering
/// at a threshold, or throttling on and off, does not flap in and out of the candidates.
/// Instances already there keep running; only new placements avoid it.
public struct HeatGate: Sendable, Equatable {
    public private(set) var hot: Set<NodeID> = []
    /// When each hot node was last seen throttling.
    private var lastThrottled: [NodeID: MeshTime] = [:]

    public init() {}

    /// Updates the set from the nodes' latest reports at `now`; returns the nodes that changed.
    @discardableResult
    public mutating func observe(_ nodes: [SchedulerNode], now: MeshTime,
                                 settings: SchedulerSettings = .standard) -> (heated: [NodeID], cooled: [NodeID]) {
        var heated: [NodeID] = [], cooled: [NodeID] = []
        for n in nodes {
            if n.throttled { lastThrottled[n.id] = now }
            let t = n.temperatureCelsius
            if hot.contains(n.id) {
                let coolEnough = t.map { $0 <= settings.coolCelsius } ?? true
                let throttleClear = lastThrottled[n.id].map { now - $0 >= settings.throttleClearAfter } ?? true
                if coolEnough, throttleClear {
                    hot.remove(n.id); lastThrottled[n.id] = nil; cooled.append(n.id)
                }
            } else if n.throttled || t.map({ $0 >= settings.hotCelsius }) ?? false {
                hot.insert(n.id); heated.append(n.id)
            } else {
                lastThrottled[n.id] = nil
            }
        }
        // A node gone from the view takes its state with it (both maps stay bounded by the view).
        let present = Set(nodes.map(\.id))
        hot = hot.filter(present.contains)
        lastThrottled = lastThrottled.filter { present.contains($0.key) }
        return (heated, cooled)
    }
}

extension Scheduler {
    /// One node's verdict for a workload (`meshctl why`).
    public struct Verdict: Sendable, Equatable {
        public var node: NodeID
        public var name: String
        /// Why it cannot take an instance now; nil for a candidate.
        public var excluded: Exclusion?
        /// A candidate's room left after one more instance (0 ... 2), and how many
        /// instances of the workload it runs.
        public var roomAfter: Double?
        public var instancesHere: Int
    }

    /// Every node's verdict for `workload`, candidates first in the order `spread` or
    /// `binpack` would pick them, then the excluded ones by name.
    public static func explain(_ workload: String, _ input: SchedulerInput, now: MeshTime,
                               settings: SchedulerSettings = .standard) -> [Verdict]? {
        guard let spec = input.workloads.first(where: { $0.name == workload }) else { return nil }
        let board = Board(input, settings: settings)
        let avoided = Set(input.crashLoops.filter { $0.slot.workload == workload && now - $0.at < settings.crashLoopAvoidance }.map(\.node))
        let verdicts = board.nodes.indices.map { i -> Verdict in
            let excluded = board.exclusion(i, spec, avoiding: avoided, hot: input.hot)
            return Verdict(node: board.nodes[i].id, name: board.nodes[i].name, excluded: excluded,
                           roomAfter: excluded == nil ? board.roomAfter(i, spec) : nil,
                           instancesHere: board.perWorkload[workload]?[i] ?? 0)
        }
        return verdicts.sorted { a, b in
            switch (a.roomAfter, b.roomAfter) {
            case let (ra?, rb?):
                let ka = spec.strategy == .spread ? (a.instancesHere, -ra) : (0, ra)
                let kb = spec.strategy == .spread ? (b.instancesHere, -rb) : (0, rb)
                return ka != kb ? ka < kb : a.node < b.node
            case (.some, nil): return true
            case (nil, .some): return false
            case (nil, nil): return (a.name, a.node) < (b.name, b.node)
            }
        }
    }
}
