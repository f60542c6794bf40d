import MeshCore

/// Placement as a pure, deterministic function of (workload specs, nodes, committed
/// placements, crash loops, hot nodes, time): the same input gives the same plan on any
/// leader, in the agent and in the simulator. It is level-triggered: each call compares
/// what should run with what is placed and plans the difference, so a new leader resumes
/// from the committed state, and a plan that was lost is simply made again.
///
/// Per workload, in submission order (first come, first placed), per instance slot:
/// - a slot beyond `count`, or of a removed workload: stopped;
/// - a placement whose node left the mesh, or that exhausted its restarts there: stopped;
/// - two or more placements on live nodes (a partition healed after the slot was
///   replaced): one is kept by the workload's `on_heal` policy, the rest stopped;
/// - no placement on a live node: if one waits on a node unreachable for less than
///   `reschedule_after`, the slot waits too; else it is placed on the best candidate,
///   or stays pending with the reason no node fits.
///
/// A candidate is alive, eligible, not hot, not avoided for this workload after a crash
/// loop, meets every constraint, and has room: its capacity minus what its placements
/// reserve covers the ask. `spread` picks the fewest instances of this workload, then the
/// most room left; `binpack` the least room left. Ties go to the lower node id.
public enum Scheduler {
    public static func plan(_ input: SchedulerInput, now: MeshTime, settings: SchedulerSettings = .standard) -> SchedulerPlan {
        var board = Board(input, settings: settings)
        var plan = SchedulerPlan()
        var byWorkload: [String: [Placement]] = [:]
        for p in input.placements { byWorkload[p.slot.workload, default: []].append(p) }

        let known = Set(input.workloads.map(\.name))
        for (name, placements) in byWorkload.sorted(by: { $0.key < $1.key }) where !known.contains(name) {
            for p in placements.sorted(by: { $0.id < $1.id }) { board.stop(p, .workloadRemoved, into: &plan) }
        }

        for spec in input.workloads {
            var slots: [Int: [Placement]] = [:]
            for p in byWorkload[spec.name] ?? [] { slots[p.slot.instance, default: []].append(p) }
            for (instance, placements) in slots.sorted(by: { $0.key < $1.key }) where instance >= spec.count {
                for p in placements.sorted(by: { $0.id < $1.id }) { board.stop(p, .scaledDown, into: &plan) }
            }
            let loops = input.crashLoops.filter { $0.slot.workload == spec.name }
            let grace = spec.rescheduleAfter ?? settings.defaultRescheduleAfter
            var needs: [(InstanceSlot, PlacementID?)] = []
            for instance in 0 ..< spec.count {
                let slot = InstanceSlot(spec.name, instance)
                var live: [Placement] = [], waiting: [(Placement, MeshTime)] = [], lost: [Placement] = []
                for p in (slots[instance] ?? []).sorted(by: { $0.id < $1.id }) {
                    if loops.contains(where: { $0.slot == slot && $0.node == p.node && $0.at >= p.placedAt }) {
                        board.stop(p, .crashLoop, into: &plan)
                        continue
                    }
                    switch board.node(p.node)?.reachability {
                    case .alive?: live.append(p)
                    case let .unreachable(since)?:
                        if now - since < grace { waiting.append((p, since)) } else { lost.append(p) }
                    case .left?, nil: board.stop(p, .nodeLeft, into: &plan)
                    }
                }
                if live.count > 1 {
                    let kept = keep(live, policy: spec.onHeal, startedAt: input.startedAt)
                    for p in live where p.id != kept.id {
                        board.stop(p, .surplusAfterHeal(kept: kept.id, policy: spec.onHeal), into: &plan)
                    }
                }
                guard live.isEmpty else { continue }
                if let (p, since) = waiting.first {
                    let name = board.node(p.node)?.name ?? "\(p.node)"
                    plan.pending.append(.init(slot: slot, reason:
                        "waiting for \(name), unreachable for \(seconds(now - since)); moves after \(seconds(grace))"))
                    continue
                }
                let moves = loops.filter { $0.slot == slot }.count
                if moves >= settings.maxCrashLoopMoves {
                    plan.pending.append(.init(slot: slot, reason: "failed: restarts exhausted on \(moves) nodes"))
                    continue
                }
                needs.append((slot, lost.last?.id))
            }
            guard !needs.isEmpty else { continue }
            let avoided = Set(loops.filter { now - $0.at < settings.crashLoopAvoidance }.map(\.node))
            board.place(spec, needs, avoiding: avoided, hot: input.hot, into: &plan)
        }
        return plan
    }

    /// Of several live placements of one slot, the one the policy keeps: `longest_running`
    /// compares the start times of the processes their nodes reported (a placement with no
    /// report yet counts from its placement time, so one that never started never wins
    /// against one that runs since earlier); ties go to the lower id.
    static func keep(_ live: [Placement], policy: WorkloadSpec.OnHeal, startedAt: [PlacementID: MeshTime]) -> Placement {
        switch policy {
        case .keepOriginal:
            return live.min { ($0.placedAt, $0.id) < ($1.placedAt, $1.id) }!
        case .keepReplacement:
            return live.max { ($0.placedAt, $0.id) < ($1.placedAt, $1.id) }!
        case .longestRunning:
            return live.min { (startedAt[$0.id] ?? $0.placedAt, $0.id) < (startedAt[$1.id] ?? $1.placedAt, $1.id) }!
        }
    }

    static func seconds(_ d: Duration) -> String { "\(Int(d.components.seconds)) s" }
}

/// The nodes and what their placements reserve, updated as a plan stops and places.
struct Board {
    let nodes: [SchedulerNode]
    let index: [NodeID: Int]
    let specs: [String: WorkloadSpec]
    var usedCPU: [Int]
    var usedMemory: [Int]
    /// Placements of each workload on each node (live ones), for `spread`.
    var perWorkload: [String: [Int: Int]] = [:]

    init(_ input: SchedulerInput, settings: SchedulerSettings) {
        nodes = input.nodes.sorted { $0.id < $1.id }
        var index: [NodeID: Int] = [:]
        for (i, n) in nodes.enumerated() { index[n.id] = i }
        self.index = index
        var specs: [String: WorkloadSpec] = [:]
        for s in input.workloads where specs[s.name] == nil { specs[s.name] = s }
        self.specs = specs
        usedCPU = [Int](repeating: 0, count: nodes.count)
        usedMemory = usedCPU
        for p in input.placements { reserve(p.slot.workload, on: p.node, sign: 1) }
    }

    func node(_ id: NodeID) -> SchedulerNode? { index[id].map { nodes[$0] } }

    mutating func reserve(_ workload: String, on node: NodeID, sign: Int) {
        guard let i = index[node], let spec = specs[workload] else { return }
        usedCPU[i] += sign * spec.resources.cpuMillicores
        usedMemory[i] += sign * spec.resources.memoryMB
        perWorkload[workload, default: [:]][i, default: 0] += sign
    }

    mutating func stop(_ p: Placement, _ reason: SchedulerPlan.StopReason, into plan: inout SchedulerPlan) {
        reserve(p.slot.workload, on: p.node, sign: -1)
        plan.stop.append(.init(placement: p.id, slot: p.slot, node: p.node, reason: reason))
    }

    /// Why node `i` cannot take an instance of `spec` now; nil when it can.
    func exclusion(_ i: Int, _ spec: WorkloadSpec, avoiding: Set<NodeID>, hot: Set<NodeID>) -> Exclusion? {
        let n = nodes[i]
        guard n.isAlive else { return .notAlive }
        if n.ineligible { return .ineligible }
        if let c = spec.constraints.first(where: { !$0.holds(on: n) }) { return .constraint(c) }
        if hot.contains(n.id) { return .hot }
        if avoiding.contains(n.id) { return .avoided }
        if !fits(i, spec) {
            return .noRoom(cpuMillicores: n.cpuMillicores - usedCPU[i], memoryMB: n.memoryMB - usedMemory[i])
        }
        return nil
    }

    func fits(_ i: Int, _ spec: WorkloadSpec) -> Bool {
        usedCPU[i] + spec.resources.cpuMillicores <= nodes[i].cpuMillicores
            && usedMemory[i] + spec.resources.memoryMB <= nodes[i].memoryMB
    }

    /// Room left on node `i` after one more instance of `spec`, as the sum of the CPU and
    /// memory fractions left (0 ... 2).
    func roomAfter(_ i: Int, _ spec: WorkloadSpec) -> Double {
        let n = nodes[i]
        func left(_ cap: Int, _ used: Int, _ ask: Int) -> Double { cap > 0 ? Double(cap - used - ask) / Double(cap) : 0 }
        return left(n.cpuMillicores, usedCPU[i], spec.resources.cpuMillicores)
            + left(n.memoryMB, usedMemory[i], spec.resources.memoryMB)
    }

    mutating func place(_ spec: WorkloadSpec, _ needs: [(InstanceSlot, PlacementID?)], avoiding: Set<NodeID>, hot: Set<NodeID>,
                        into plan: inout SchedulerPlan) {
        // Constraints, liveness and heat do not change within a plan: filter once.
        var candidates: [Int] = []
        for i in nodes.indices {
            switch exclusion(i, spec, avoiding: avoiding, hot: hot) {
            case nil, .noRoom?: candidates.append(i)
            default: break
            }
        }
        // This workload's instances per node, as an array: the scan below is the hot loop
        // (every candidate for every instance), and a keyed lookup there costs most of it.
        var here = [Int](repeating: 0, count: nodes.count)
        for (i, n) in perWorkload[spec.name] ?? [:] { here[i] = n }
        let spread = spec.strategy == .spread
        for (k, (slot, replaces)) in needs.enumerated() {
            var best: Int?, bestKey = (Int.max, Double.infinity)
            for i in candidates where fits(i, spec) {
                let room = roomAfter(i, spec)
                let key = spread ? (here[i], -room) : (0, room)
                if key < bestKey { best = i; bestKey = key }   // strictly better: ties keep the lower id
            }
            guard let best else {
                // Nothing is reserved after a failed search, so the workload's remaining slots
                // fit nowhere either, for the same reason: one scan of the nodes, not one per slot.
                let reason = unplaceable(spec, avoiding: avoiding, hot: hot)
                for (rest, _) in needs[k...] { plan.pending.append(.init(slot: rest, reason: reason)) }
                return
            }
            reserve(spec.name, on: nodes[best].id, sign: 1)
            here[best] += 1
            plan.place.append(.init(slot: slot, node: nodes[best].id, replaces: replaces))
        }
    }

    /// Why no node fits, e.g. `no node with arch=aarch64 and 512 MB free (3 match, all full)`.
    func unplaceable(_ spec: WorkloadSpec, avoiding: Set<NodeID>, hot: Set<NodeID>) -> String {
        var alive = 0, matching = 0, full = 0, tooHot = 0, avoided = 0
        for i in nodes.indices {
            switch exclusion(i, spec, avoiding: avoiding, hot: hot) {
            case .notAlive?, .ineligible?: continue
            case .constraint?: alive += 1
            case .hot?: alive += 1; matching += 1; tooHot += 1
            case .avoided?: alive += 1; matching += 1; avoided += 1
            case .noRoom?, nil: alive += 1; matching += 1; full += 1
            }
        }
        if alive == 0 { return "no live node that takes placements" }
        var wanted = spec.constraints.map(\.description)
        let r = spec.resources
        var room: [String] = []
        if r.cpuMillicores > 0 { room.append("\(r.cpuMillicores) mCPU") }
        if r.memoryMB > 0 { room.append("\(r.memoryMB) MB") }
        if matching == 0 { return "no node with " + (wanted.isEmpty ? "room" : wanted.joined(separator: " and ")) }
        if !room.isEmpty { wanted.append(room.joined(separator: " and ") + " free") }
        var why: [String] = []
        if full > 0 { why.append("\(full) full") }
        if tooHot > 0 { why.append("\(tooHot) too hot") }
        if avoided > 0 { why.append("\(avoided) avoided after crash loops") }
        return "no node with \(wanted.isEmpty ? "room" : wanted.joined(separator: " and ")) (\(matching) match: \(why.joined(separator: ", ")))"
    }
}

/// Why a node is not a candidate for a workload.
public enum Exclusion: Sendable, Equatable, CustomStringConvertible {
    case notAlive
    case ineligible
    case constraint(Constraint)
    case hot
    case avoided
    case noRoom(cpuMillicores: Int, memoryMB: Int)

    public var description: String {
        switch self {
        case .notAlive: "not alive"
        case .ineligible: "takes no placements"
        case let .constraint(c): "fails \(c)"
        case .hot: "too hot (or throttled)"
        case .avoided: "avoided after a crash loop"
        case let .noRoom(cpu, mem): "no room (\(cpu) mCPU, \(mem) MB free)"
        }
    }
}
