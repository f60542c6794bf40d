import MeshCore
import Scheduler

/// Fixed parameters of the scheduler engine.
public enum SchedulerSimulationLimits {
    /// How often duplicates and `stop_after_disconnect` are checked.
    public static let checkInterval = Duration.milliseconds(250)
    /// Largest node count, joins included.
    public static let maxNodes = 20_000
    /// Violations kept per invariant in the report (the rest are only counted).
    public static let violationsKept = 5
}

/// What a queued event of the scheduler engine is about.
enum SchedulerEventKind: UInt8, Sendable {
    /// The leader's periodic reconciliation.
    case tick
    /// Reconcile now: a change of the leader's view, a new leader, a change signalled while a
    /// plan was committing. Coalesced (`reconcileQueued`).
    case reconcile
    /// Batch `index` of the plan in flight commits, if its leader (`token`: epoch) still leads.
    case commit
    /// Connected nodes touched by commit `token` (a version) apply it.
    case learn
    /// Node `index`, connected again, applies everything committed up to `replicate` ago.
    case catchUp
    /// A fault happened `detect` ago: the leader's view changed.
    case viewChange
    case election
    /// Timeline action `index`.
    case action
    case check
}

/// A deterministic simulation of workload scheduling (issue 20): the real `Scheduler.plan`
/// run by a simulated leader over its *view* of the nodes, a committed state with ids in
/// commit order, and a simulated supervisor per node that starts and stops what its replica
/// of the committed state says.
///
/// The model (simulations/README.md, "Scheduler"):
/// - **View.** The leader's view of a node is the truth of `detect` ago: a node crashed or cut
///   off from the leader at `t` is `.unreachable(since: t + detect)` from `t + detect` on, and
///   alive again `detect` after it is reachable again; a joined node appears after `detect`.
/// - **Quorum.** The side of a partition holding a majority of the up voters commits; a
///   leader elsewhere (or dead) is replaced after `election` by the lowest-numbered up voter
///   of the majority side, which resumes from the committed state alone.
/// - **Commits.** A plan becomes batches of `commitBatch` commands (stops, then places),
///   committed `commitLatency` apart; a leader that dies or loses its quorum leaves the rest
///   uncommitted (Raft would drop or later commit them; here they are dropped).
/// - **Supervisors.** A node connected to the majority side applies a commit `replicate` after
///   it; one cut off applies nothing, keeps its instances running (stopping a workload's after
///   its `stop_after_disconnect`), and catches up `replicate` after it is connected again.
///   An instance it stopped on a disconnect is started again only while its placement is the
///   slot's only one (it was not replaced).
public struct SchedulerSimulation {
    public let scenario: SchedulerScenario
    public let seed: UInt64
    /// `--nodes`, when it overrode the scenario's count (for the reproduce line).
    let nodesOverride: Int?
    /// When set, every `Scheduler.plan` call is timed with it (the report's leader CPU per
    /// round). Nothing else in the engine reads a clock; a run without it is byte-for-byte
    /// reproducible.
    public var planClock: ContinuousClock?
    let settings: SchedulerSettings
    let specs: [WorkloadSpec]
    let specIndex: [String: Int]
    let voters: [Int]
    var nodes: [Node]
    var queue = EventQueue<SchedulerEventKind>(capacity: 1 << 12)
    var now: Int64 = 0
    var faultRandom: SeededRandom

    // Topology: partitions as (from, cut) — the first `cut` node indices are apart; nil: healed.
    var cuts: [(at: Int64, cut: Int?)] = [(0, nil)]
    var quorumSide: Int?
    var lastTopologyChange: Int64 = 0
    /// View changes, commits and catch-ups queued but not yet applied: while any is, the
    /// leader's view or some replica lags the truth, and a round is not a settled one.
    var inFlight = 0

    // The leader.
    var leader: Int?
    var epoch: UInt64 = 0
    var electionScheduled = false
    var reconcileQueued = false
    var replanWhenCommitted = false
    var batches: [[Command]] = []
    var batchesLeft = 0
    var viewCache: [SchedulerNode]?
    var lastPending: [SchedulerPlan.Pending] = []

    // The committed state.
    var committed: [PlacementID: Placement] = [:]
    var committedSorted: [Placement]?
    var bySlot: [InstanceSlot: [PlacementID]] = [:]
    var nextPlacementID: UInt64 = 1
    var commitTimes: [Int64] = []
    var touchedByVersion: [Int: [Int]] = [:]

    // What runs.
    var runningOn: [InstanceSlot: [Int]] = [:]
    var duplicateSince: [InstanceSlot: Int64] = [:]
    var firstStart: [PlacementID: MeshTime] = [:]

    // Measurements.
    var metrics = SchedulerSimMetrics()
    var moveWatches: [MoveWatch] = []
    var settleWatches: [SettleWatch] = []
    var healAt: Int64?
    var violations: [SchedulerViolation] = []
    var violationCount: [SchedulerInvariant: Int] = [:]

    enum Command {
        case stop(SchedulerPlan.Stop)
        case place(SchedulerPlan.Place)
    }

    struct Node {
        /// What the node is and offers (its `reachability` is not used: views are computed).
        var info: SchedulerNode
        var joinedAt: Int64
        var crashedAt: Int64?
        var up: Bool { crashedAt == nil }
        var disconnectedSince: Int64?
        /// Commits not yet applied by this node's replica, in commit order.
        var inbox: [(version: Int, id: PlacementID, slot: InstanceSlot, change: Change)] = []
        /// The placements its replica holds for it.
        var learned: [PlacementID: InstanceSlot] = [:]
        var running: [PlacementID: InstanceSlot] = [:]
        var stoppedOnDisconnect: Set<PlacementID> = []
        var usedCPU = 0, usedMemory = 0
    }

    enum Change { case add, remove, recheck }

    /// Slots whose instances ran on crashed nodes (or pending at a join), until they run again.
    struct MoveWatch {
        var label: String
        var isJoin: Bool
        var at: Int64
        var total: Int
        var remaining: Set<InstanceSlot>
        var samples: [Double] = []
    }

    /// A timeline action, until the next settled state, and until the first settled state
    /// with nothing pending (every slot running once).
    struct SettleWatch {
        var label: String
        var at: Int64
        var seconds: Double?
        var allRunningSeconds: Double?
    }

    public init(scenario original: SchedulerScenario, seed: UInt64? = nil, nodes nodeOverride: Int? = nil) throws(ScenarioError) {
        var scenario = original
        if let nodeOverride { scenario.nodes = nodeOverride }
        let joins = scenario.timeline.reduce(0) { if case let .join(n, _, _) = $1.action { $0 + n } else { $0 } }
        guard scenario.nodes >= max(5, scenario.voters), scenario.nodes + joins <= SchedulerSimulationLimits.maxNodes else {
            throw .invalid(key: "nodes", value: "\(scenario.nodes)", allowed: "\(max(5, scenario.voters)) ... \(SchedulerSimulationLimits.maxNodes) with the joins")
        }
        for t in scenario.timeline {
            if case let .crash(.node(i)) = t.action, i >= scenario.nodes {
                throw .invalid(key: "nodes", value: "\(scenario.nodes)", allowed: "more than node \(i) of the timeline")
            }
        }
        self.scenario = scenario
        self.seed = seed ?? scenario.seed
        self.nodesOverride = nodeOverride == original.nodes ? nil : nodeOverride
        var root = SeededRandom(seed: self.seed)
        var nodeRandom = root.fork(), workloadRandom = root.fork()
        faultRandom = root.fork()
        settings = SchedulerSettings(defaultRescheduleAfter: scenario.rescheduleAfter)
        specs = scenario.population.makeWorkloads(random: &workloadRandom, rescheduleAfter: scenario.rescheduleAfter)
        var index: [String: Int] = [:]
        for (i, s) in specs.enumerated() { index[s.name] = i }
        specIndex = index
        nodes = scenario.population.makeNodes(scenario.nodes, random: &nodeRandom).map { Node(info: $0, joinedAt: 0) }
        voters = scenario.voterIndices
        quorumSide = 1
        leader = voters.first
        for (i, t) in scenario.timeline.enumerated() { queue.push(time: t.at.nanoseconds, kind: .action, index: Int32(i)) }
        queue.push(time: 0, kind: .tick, index: 0)
        queue.push(time: SchedulerSimulationLimits.checkInterval.nanoseconds, kind: .check, index: 0)
    }

    // MARK: running

    /// Runs to `duration` and returns the report.
    public mutating func run() -> SchedulerSimReport {
        let end = scenario.duration.nanoseconds
        while let top = queue.peekTime, top <= end {
            let e = queue.pop()!
            now = e.time
            let i = Int(e.index)
            switch e.kind {
            case .tick:
                queue.push(time: now + scenario.reconcileInterval.nanoseconds, kind: .tick, index: 0)
                reconcile()
            case .reconcile:
                reconcileQueued = false
                reconcile()
            case .commit: commit(batch: i, epoch: e.token)
            case .learn:
                inFlight -= 1
                learn(version: Int(e.token))
            case .catchUp:
                inFlight -= 1
                catchUp(i)
            case .viewChange:
                inFlight -= 1
                viewCache = nil
                requestReconcile()
            case .election: elect()
            case .action: apply(scenario.timeline[i])
            case .check:
                check()
                queue.push(time: now + SchedulerSimulationLimits.checkInterval.nanoseconds, kind: .check, index: 0)
            }
        }
        now = end
        return finish()
    }

    mutating func requestReconcile() {
        guard !reconcileQueued else { return }
        reconcileQueued = true
        queue.push(time: now, kind: .reconcile, index: 0)
    }

    // MARK: the leader

    /// One planning round: plan from the leader's view and the committed state, and start
    /// committing the plan's commands in batches.
    mutating func reconcile() {
        guard let l = leader else { return }
        guard batchesLeft == 0 else { replanWhenCommitted = true; return }
        if viewCache == nil { viewCache = view(of: l) }
        if committedSorted == nil { committedSorted = committed.values.sorted { $0.id < $1.id } }
        let input = SchedulerInput(workloads: specs, nodes: viewCache!, placements: committedSorted!, startedAt: firstStart)
        let plan: SchedulerPlan
        if let clock = planClock {
            let started = clock.now
            plan = Scheduler.plan(input, now: MeshTime(nanoseconds: now), settings: settings)
            metrics.planDurations.append(clock.now - started)
        } else {
            plan = Scheduler.plan(input, now: MeshTime(nanoseconds: now), settings: settings)
        }
        metrics.rounds += 1
        lastPending = plan.pending
        guard !plan.isEmpty else { checkSettled(plan); return }
        metrics.roundsWithChanges += 1
        let commands = plan.stop.map(Command.stop) + plan.place.map(Command.place)
        let size = scenario.commitBatch
        batches = stride(from: 0, to: commands.count, by: size).map { Array(commands[$0 ..< min($0 + size, commands.count)]) }
        batchesLeft = batches.count
        for k in batches.indices {
            queue.push(time: now + scenario.commitLatency.nanoseconds * Int64(k + 1), kind: .commit, index: Int32(k), token: epoch)
        }
    }

    /// The leader's membership view: each node as it was `detect` ago, seen from the leader.
    func view(of observer: Int) -> [SchedulerNode] {
        let seen = max(0, now - scenario.detect.nanoseconds)
        var out: [SchedulerNode] = []
        out.reserveCapacity(nodes.count)
        for j in nodes.indices where nodes[j].joinedAt <= seen {
            var n = nodes[j].info
            if !reachable(observer, j, at: seen) {
                // Walk back over the changes to the start of this unreachable stretch.
                var from = nodes[j].joinedAt
                let changes = (cuts.map(\.at) + [nodes[j].crashedAt ?? .max]).filter { $0 <= seen && $0 > 0 }.sorted(by: >)
                for c in changes where reachable(observer, j, at: c - 1) { from = c; break }
                n.reachability = .unreachable(since: MeshTime(nanoseconds: from + scenario.detect.nanoseconds))
            }
            out.append(n)
        }
        return out
    }

    func side(_ n: Int, at t: Int64) -> Int {
        var cut: Int?
        for c in cuts where c.at <= t { cut = c.cut }
        guard let cut else { return 1 }
        return n < cut ? 0 : 1
    }

    func reachable(_ observer: Int, _ j: Int, at t: Int64) -> Bool {
        t >= nodes[j].joinedAt && (nodes[j].crashedAt.map { t < $0 } ?? true) && side(observer, at: t) == side(j, at: t)
    }

    /// The side holding a majority of the up voters, if one does.
    func majoritySide() -> Int? {
        var count = [0, 0]
        for v in voters where nodes[v].up { count[side(v, at: now)] += 1 }
        let need = voters.count / 2 + 1
        return count[0] >= need ? 0 : count[1] >= need ? 1 : nil
    }

    func connected(_ n: Int) -> Bool { nodes[n].up && quorumSide == side(n, at: now) }

    mutating func commit(batch k: Int, epoch token: UInt64) {
        guard token == epoch, leader != nil, k < batches.count else { return }
        let version = commitTimes.count + 1
        commitTimes.append(now)
        var touched: Set<Int> = []
        for command in batches[k] {
            switch command {
            case let .stop(s):
                guard let p = committed.removeValue(forKey: s.placement) else { continue }
                bySlot[p.slot]?.removeAll { $0 == p.id }
                metrics.stops[Self.label(s.reason), default: 0] += 1
                let n = index(of: p.node)
                nodes[n].inbox.append((version, p.id, p.slot, .remove))
                touched.insert(n)
                for other in bySlot[p.slot] ?? [] {
                    let m = index(of: committed[other]!.node)
                    nodes[m].inbox.append((version, other, p.slot, .recheck))
                    touched.insert(m)
                }
            case let .place(pl):
                let p = Placement(id: PlacementID(nextPlacementID), slot: pl.slot, node: pl.node,
                                  placedAt: MeshTime(nanoseconds: now), replaces: pl.replaces)
                nextPlacementID += 1
                committed[p.id] = p
                bySlot[p.slot, default: []].append(p.id)
                metrics.placed += 1
                let n = index(of: p.node)
                nodes[n].inbox.append((version, p.id, p.slot, .add))
                touched.insert(n)
            }
        }
        committedSorted = nil
        touchedByVersion[version] = touched.sorted()
        queue.push(time: now + scenario.replicate.nanoseconds, kind: .learn, index: 0, token: UInt64(version))
        inFlight += 1
        batchesLeft -= 1
        if batchesLeft == 0 {
            batches = []
            if replanWhenCommitted { replanWhenCommitted = false; requestReconcile() }
        }
    }

    func index(of id: NodeID) -> Int { Int(id.w0) - 1 }

    static func label(_ r: SchedulerPlan.StopReason) -> String {
        switch r {
        case .scaledDown: "scaled_down"
        case .workloadRemoved: "workload_removed"
        case .surplusAfterHeal: "surplus_after_heal"
        case .nodeLeft: "node_left"
        case .crashLoop: "crash_loop"
        }
    }

    mutating func loseLeader() {
        guard leader != nil else { return }
        leader = nil
        epoch += 1
        for b in batches.suffix(batchesLeft) { metrics.uncommittedCommands += b.count }
        batches = []
        batchesLeft = 0
        replanWhenCommitted = false
        scheduleElection()
    }

    mutating func scheduleElection() {
        guard !electionScheduled else { return }
        electionScheduled = true
        queue.push(time: now + scenario.election.nanoseconds, kind: .election, index: 0)
    }

    /// The lowest-numbered up voter of the majority side leads; it knows the committed state only.
    mutating func elect() {
        electionScheduled = false
        guard leader == nil, let side = quorumSide, let v = voters.first(where: { nodes[$0].up && self.side($0, at: now) == side }) else { return }
        leader = v
        epoch += 1
        metrics.leaderChanges += 1
        viewCache = nil
        requestReconcile()
    }

    // MARK: supervisors

    mutating func learn(version: Int) {
        guard let touched = touchedByVersion.removeValue(forKey: version) else { return }
        for n in touched where connected(n) { apply(n, upTo: version) }
    }

    mutating func catchUp(_ n: Int) {
        guard connected(n) else { return }
        let seen = now - scenario.replicate.nanoseconds
        let version = commitTimes.lastIndex { $0 <= seen }.map { $0 + 1 } ?? 0
        apply(n, upTo: version)
    }

    /// Node `n`'s replica applies its commits up to `version`; its supervisor starts what
    /// was placed on it and stops what was stopped.
    mutating func apply(_ n: Int, upTo version: Int) {
        let due = nodes[n].inbox.prefix { $0.version <= version }
        guard !due.isEmpty || !nodes[n].stoppedOnDisconnect.isEmpty else { return }
        nodes[n].inbox.removeFirst(due.count)
        for entry in due {
            switch entry.change {
            case .add:
                nodes[n].learned[entry.id] = entry.slot
                start(n, entry.id, entry.slot)
            case .remove:
                nodes[n].learned[entry.id] = nil
                nodes[n].stoppedOnDisconnect.remove(entry.id)
                if nodes[n].running[entry.id] != nil { stop(n, entry.id) }
            case .recheck: break
            }
        }
        for id in nodes[n].stoppedOnDisconnect.sorted() {
            guard let slot = nodes[n].learned[id], bySlot[slot] == [id] else { continue }
            nodes[n].stoppedOnDisconnect.remove(id)
            metrics.restartsAfterDisconnect += 1
            run(n, id, slot)
        }
    }

    /// A first start of placement `id`: there must never be a second one.
    mutating func start(_ n: Int, _ id: PlacementID, _ slot: InstanceSlot) {
        if firstStart[id] != nil { violate(.noPlacementStartedTwice, "\(id) (\(slot)) started again on n\(n)") }
        firstStart[id] = MeshTime(nanoseconds: now)
        metrics.starts += 1
        run(n, id, slot)
        for w in moveWatches.indices where moveWatches[w].remaining.remove(slot) != nil {
            moveWatches[w].samples.append(Double(now - moveWatches[w].at) / 1e9)
        }
    }

    mutating func run(_ n: Int, _ id: PlacementID, _ slot: InstanceSlot) {
        let spec = specs[specIndex[slot.workload]!]
        nodes[n].running[id] = slot
        nodes[n].usedCPU += spec.resources.cpuMillicores
        nodes[n].usedMemory += spec.resources.memoryMB
        let info = nodes[n].info
        if let c = spec.constraints.first(where: { !$0.holds(on: info) }) {
            violate(.instancesFitTheirNodes, "\(slot) (\(id)) runs on \(info.name), which fails \(c)")
        }
        if nodes[n].usedCPU > info.cpuMillicores || nodes[n].usedMemory > info.memoryMB {
            violate(.instancesFitTheirNodes, "\(info.name) runs \(nodes[n].usedCPU) of \(info.cpuMillicores) mCPU, \(nodes[n].usedMemory) of \(info.memoryMB) MB after starting \(slot)")
        }
        runningOn[slot, default: []].append(n)
        if runningOn[slot]!.count > 1, duplicateSince[slot] == nil { duplicateSince[slot] = now }
    }

    mutating func stop(_ n: Int, _ id: PlacementID) {
        guard let slot = nodes[n].running.removeValue(forKey: id) else { return }
        let spec = specs[specIndex[slot.workload]!]
        nodes[n].usedCPU -= spec.resources.cpuMillicores
        nodes[n].usedMemory -= spec.resources.memoryMB
        forget(slot, on: n)
    }

    mutating func forget(_ slot: InstanceSlot, on n: Int) {
        if let k = runningOn[slot]?.firstIndex(of: n) { runningOn[slot]!.remove(at: k) }
        if runningOn[slot]?.isEmpty == true { runningOn[slot] = nil }
        if (runningOn[slot]?.count ?? 0) < 2, duplicateSince.removeValue(forKey: slot) != nil, let healAt, now >= healAt {
            metrics.lastDuplicateEndAfterHeal = now
        }
    }

    // MARK: faults

    mutating func apply(_ t: SchedulerTimedAction) {
        let label = "\(t.action) at \(Report.format(Double(now) / 1e9)) s"
        switch t.action {
        case let .crash(selection):
            let up = nodes.indices.filter { nodes[$0].up }
            var chosen: [Int]
            switch selection {
            case let .node(i): chosen = nodes[i].up ? [i] : []
            case let .count(c): chosen = Array(shuffled(up).prefix(c))
            case let .percent(p): chosen = Array(shuffled(up).prefix(Int((Double(up.count) * p / 100).rounded())))
            }
            chosen.sort()
            crash(chosen, label: label)
        case .crashLeader:
            if let l = leader { crash([l], label: label) }
        case let .partition(percent):
            cuts.append((now, Int((Double(scenario.nodes) * percent / 100).rounded())))
        case .heal:
            cuts.append((now, nil))
            healAt = now
            metrics.duplicatesAtHeal = duplicateSince.count
            metrics.lastDuplicateEndAfterHeal = nil
        case let .join(count, arch, tags):
            let p = scenario.population
            for _ in 0 ..< count {
                let info = SchedulerPopulation.node(nodes.count, arch: arch, tags: tags, cpuMillicores: p.cpuMillicores, memoryMB: p.memoryMB)
                nodes.append(Node(info: info, joinedAt: now))
            }
            let pending = Set(lastPending.map(\.slot))
            moveWatches.append(MoveWatch(label: label, isJoin: true, at: now, total: pending.count, remaining: pending))
        }
        topologyChanged()
        settleWatches.append(SettleWatch(label: label, at: now))
    }

    /// Fisher-Yates with the fault generator.
    mutating func shuffled(_ xs: [Int]) -> [Int] {
        var a = xs
        for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, Int(faultRandom.next() % UInt64(i + 1))) }
        return a
    }

    mutating func crash(_ chosen: [Int], label: String) {
        var lost: Set<InstanceSlot> = []
        for n in chosen {
            nodes[n].crashedAt = now
            for (_, slot) in nodes[n].running.sorted(by: { $0.key < $1.key }) {
                forget(slot, on: n)
                if runningOn[slot] == nil { lost.insert(slot) }
            }
            nodes[n].running = [:]
            nodes[n].stoppedOnDisconnect = []
        }
        metrics.crashed += chosen.count
        moveWatches.append(MoveWatch(label: "\(label): \(chosen.count) nodes", isJoin: false, at: now, total: lost.count, remaining: lost))
    }

    /// After a crash, cut, heal or join: quorum, leadership, connectivity, and the leader's
    /// view `detect` later.
    mutating func topologyChanged() {
        lastTopologyChange = now
        quorumSide = majoritySide()
        if let l = leader, !connected(l) { loseLeader() }
        if leader == nil { scheduleElection() }
        for n in nodes.indices where nodes[n].up {
            let c = connected(n)
            if c, nodes[n].disconnectedSince != nil {
                nodes[n].disconnectedSince = nil
                queue.push(time: now + scenario.replicate.nanoseconds, kind: .catchUp, index: Int32(n))
                inFlight += 1
            } else if !c, nodes[n].disconnectedSince == nil {
                nodes[n].disconnectedSince = now
            }
        }
        queue.push(time: now + scenario.detect.nanoseconds, kind: .viewChange, index: 0)
        inFlight += 1
    }

    // MARK: invariants

    /// Every `checkInterval`: instances cut off longer than their `stop_after_disconnect`
    /// stop; a duplicate may live only during a partition and for the bound after a heal.
    mutating func check() {
        for n in nodes.indices where nodes[n].up {
            guard let since = nodes[n].disconnectedSince, !nodes[n].running.isEmpty else { continue }
            for (id, slot) in nodes[n].running.sorted(by: { $0.key < $1.key }) {
                guard let d = specs[specIndex[slot.workload]!].stopAfterDisconnect, now - since >= d.nanoseconds else { continue }
                stop(n, id)
                nodes[n].stoppedOnDisconnect.insert(id)
                metrics.disconnectStops += 1
            }
        }
        guard !duplicateSince.isEmpty, cuts.last!.cut == nil else { return }
        let bound = (scenario.rescheduleAfter + scenario.reconcileInterval + scenario.detect).nanoseconds
        if let healAt, now <= healAt + bound { return }
        for (slot, since) in duplicateSince.sorted(by: { $0.key < $1.key }).prefix(3) {
            violate(.noDuplicateOutlivesHealBound, "\(slot) runs on \(runningOn[slot]!.map { "n\($0)" }.joined(separator: ", ")) since \(Report.format(Double(since) / 1e9)) s")
        }
        // Each is reported once: the stops that end it are the next round's business.
        duplicateSince.removeAll()
    }

    /// A round planned nothing: if the view is current and every commit applied, each slot
    /// of each workload must run exactly once on the connected nodes, or be pending with a
    /// reason.
    mutating func checkSettled(_ plan: SchedulerPlan) {
        guard inFlight == 0 else { return }
        metrics.lastSettledAt = now
        if metrics.firstSettledAt == nil { metrics.firstSettledAt = now }
        for w in settleWatches.indices where settleWatches[w].seconds == nil {
            settleWatches[w].seconds = Double(now - settleWatches[w].at) / 1e9
        }
        metrics.settledChecks += 1
        var bad = 0
        defer {
            if bad == 0, plan.pending.isEmpty {
                for w in settleWatches.indices where settleWatches[w].allRunningSeconds == nil {
                    settleWatches[w].allRunningSeconds = Double(now - settleWatches[w].at) / 1e9
                }
            }
        }
        var pending: [InstanceSlot: String] = [:]
        for p in plan.pending { pending[p.slot] = p.reason }
        for spec in specs {
            for i in 0 ..< spec.count {
                let slot = InstanceSlot(spec.name, i)
                let running = (runningOn[slot] ?? []).filter(connected).count
                if running == 1 || (running == 0 && pending[slot].map { !$0.isEmpty } == true) { continue }
                bad += 1
                if bad <= 3 {
                    violate(.settledCountOrPending, "\(slot): \(running) running on connected nodes\(pending[slot].map { ", pending: \($0)" } ?? ", not pending")")
                }
            }
        }
    }

    mutating func violate(_ invariant: SchedulerInvariant, _ detail: String) {
        violationCount[invariant, default: 0] += 1
        if violations.filter({ $0.invariant == invariant }).count < SchedulerSimulationLimits.violationsKept {
            violations.append(SchedulerViolation(invariant: invariant, atSeconds: Double(now) / 1e9, detail: detail))
        }
    }

    // MARK: the end

    mutating func finish() -> SchedulerSimReport {
        if metrics.lastSettledAt.map({ $0 < lastTopologyChange }) ?? true {
            violate(.settledAtEnd, "no settled round after the last fault (\(Report.format(Double(lastTopologyChange) / 1e9)) s)")
        }
        var running = 0
        for n in nodes where n.up { running += n.running.count }
        return SchedulerSimReport(simulation: self, running: running)
    }
}

/// What the scheduler engine checks.
public enum SchedulerInvariant: String, Sendable, CaseIterable {
    /// Whenever a round plans nothing with a current view: every slot runs exactly once on
    /// the connected nodes, or is pending with a reason.
    case settledCountOrPending = "settled_count_or_pending"
    /// The run settles after its last fault.
    case settledAtEnd = "settled_at_end"
    /// No instance runs on a node that fails its constraints or lacks room for it.
    case instancesFitTheirNodes = "instances_fit_their_nodes"
    /// Two instances of one slot run only during a partition, and for at most
    /// `reschedule_after` + `reconcile_interval` + `detect` after the heal.
    case noDuplicateOutlivesHealBound = "no_duplicate_outlives_heal_bound"
    /// A placement id is started once (a restart after a disconnect stop is not a start).
    case noPlacementStartedTwice = "no_placement_started_twice"
}

public typealias SchedulerViolation = Violation<SchedulerInvariant>

/// Counters of one scheduler run.
public struct SchedulerSimMetrics: Sendable {
    public var rounds = 0, roundsWithChanges = 0, settledChecks = 0
    public var placed = 0, starts = 0, crashed = 0
    public var stops: [String: Int] = [:]
    public var disconnectStops = 0, restartsAfterDisconnect = 0
    public var leaderChanges = 0, uncommittedCommands = 0
    public var duplicatesAtHeal = 0
    var lastDuplicateEndAfterHeal: Int64?
    var lastSettledAt: Int64?
    var firstSettledAt: Int64?
    /// Wall time of each `Scheduler.plan` call (only with a `planClock`).
    public var planDurations: [Duration] = []
}
