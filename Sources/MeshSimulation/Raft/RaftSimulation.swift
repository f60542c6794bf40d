import Consensus
import MeshCore

/// Runs a `RaftScenario`: real `RaftNode` cores on virtual time over a simulated network
/// (latency, loss, partitions) with simulated disks (fsync latency, crash losing unsynced
/// writes, torn writes, bit flips, truncation, wipes) and clients writing all the while.
/// Raft's safety properties are checked after every input (`RaftSafety`). Deterministic:
/// one seed replays the same run.
public struct RaftSimulation: Sendable {
    public let scenario: RaftScenario
    public let seed: UInt64

    struct Node: Sendable {
        var id: NodeID
        var core: RaftNode?
        var disk = RaftSimDisk()
        /// An fsync is in progress: inputs wait in `inbox` and share the next one.
        var syncing = false
        var inbox: [Input] = []
        var tickDue = false
        /// Readies whose writes wait on the fsync in progress (messages, applies), with the
        /// shell's plan for each.
        var waitingOnSync: [(plan: RaftShell.Plan, ready: RaftReady)] = []
        /// The agent's policy for each ready: what is sent before the write, what the write
        /// holds, when the commit index is stored.
        var shell = RaftShell(loaded: HardState(), now: .zero)
        var wakeToken: UInt64 = 0
        var wakeAt = Int64.max
        var incarnation: UInt64 = 0
        var crashedAt: Int64?
        /// Client writes this node proposed as leader, by index.
        var proposals: [LogIndex: [(client: Int, seq: UInt64, term: Term, command: [UInt8])]] = [:]
        var wasAbstaining = false
        /// The state machine: the index applied and the digest of everything applied.
        var machineIndex = LogIndex.zero
        var machineDigest: UInt64 = 0
    }

    enum Input: Sendable {
        case raft(from: NodeID, RaftMessage)
        case request(client: Int, seq: UInt64, command: [UInt8], forwarded: Bool)
    }

    enum Payload: Sendable {
        case toNode(slot: Int, id: NodeID, Input)
        case toClient(client: Int, seq: UInt64, ok: Bool, index: LogIndex, term: Term, command: [UInt8], leader: NodeID?)
    }

    struct Client: Sendable {
        var seq: UInt64 = 0
        var outstanding: UInt64?
        var leaderHint: NodeID?
    }

    struct Ack: Sendable { var index: LogIndex; var term: Term; var command: [UInt8] }

    var rng: SeededRandom
    var now: Int64 = 0
    var queue = EventQueue<RaftEventKind>()
    var nodes: [Node] = []
    var payloads: [Payload?] = []
    var freePayloads: [Int] = []
    var groups: [Int]
    var loss: Double
    var clients: [Client]
    var clientsStopped = false
    var safety = RaftSafety()
    var acks: [Ack] = []
    var measuring = false

    // Measurements.
    var elections = 0
    var leaderChanges = 0
    var lastLeader: NodeID?
    var lastLeaderTerm = Term.zero
    var failovers: [Double] = []
    var stepDowns: [Double] = []
    /// An open failover measurement: the leader hit, its term, when.
    var openFailover: (leader: NodeID, term: Term, since: Int64)?
    var openStepDown: (leader: NodeID, since: Int64)?
    var corruptions = 0
    var refilled = 0
    var voterAdds = 0
    var snapshotsInstalled = 0
    var messagesSent = 0
    /// Messages across a cut link that the sender's kernel refused (lost like the rest).
    var sendsRefused = 0
    var crashes = 0
    /// Identities lost to a wiped disk, and when.
    var retired: [NodeID: Int64] = [:]

    public init(scenario: RaftScenario, seed: UInt64? = nil) {
        self.scenario = scenario
        self.seed = seed ?? scenario.seed
        rng = SeededRandom(seed: self.seed)
        groups = Array(repeating: 0, count: scenario.nodeCount)
        loss = scenario.loss
        clients = Array(repeating: Client(), count: scenario.clients)
        let voters = (0 ..< scenario.voters).map { Self.nodeID(slot: $0, generation: 0) }
        let learners = (scenario.voters ..< scenario.voters + scenario.learners).map { Self.nodeID(slot: $0, generation: 0) }
        for slot in 0 ..< scenario.nodeCount {
            let id = Self.nodeID(slot: slot, generation: 0)
            var n = Node(id: id)
            n.core = RaftNode(id: id, voters: voters, learners: learners, settings: scenario.settings, random: rng.fork(), now: .zero)
            nodes.append(n)
        }
    }

    /// Node ids name the slot (w0, from 1) and how many times its disk was wiped (w1).
    static func nodeID(slot: Int, generation: UInt64) -> NodeID { NodeID(w0: UInt64(slot + 1), w1: generation, w2: 0, w3: 0) }

    var time: Double { Double(now) / 1e9 }
    func ns(_ d: Duration) -> Int64 { d.nanoseconds }

    // MARK: Running

    public mutating func run() -> RaftSimReport {
        for slot in nodes.indices { rescheduleWake(slot) }
        let start = ns(scenario.warmup)
        for (i, t) in scenario.timeline.enumerated() { queue.push(start + ns(t.at), .action, i) }
        for c in clients.indices { queue.push(ns(.milliseconds(100)) + Int64(c) * 1_000_000, .clientWrite, c) }
        if scenario.policy != nil { queue.push(ns(.seconds(1)), .policy, 0) }
        let timelineEnd = start + ns(scenario.duration)
        queue.push(start, .settle, 0, token: 0)          // token 0: the measured period starts
        queue.push(timelineEnd, .settle, 0, token: 1)    // token 1: heal and settle
        queue.push(timelineEnd + ns(scenario.settle) / 2, .settle, 0, token: 2)   // clients stop
        let end = timelineEnd + ns(scenario.settle)
        while let e = queue.pop(), e.time <= end {
            now = e.time
            handle(e)
        }
        now = end
        return report()
    }

    mutating func handle(_ e: RaftEvent) {
        let i = Int(e.index)
        switch e.kind {
        case .wake:
            guard nodes[i].core != nil, e.token == nodes[i].wakeToken else { return }
            nodes[i].wakeAt = .max
            if nodes[i].syncing { nodes[i].tickDue = true; return }
            let r = nodes[i].core!.tick(now: MeshTime(nanoseconds: now))
            afterInput(i, [r])
        case .deliver:
            guard let p = payloads[i] else { return }
            payloads[i] = nil; freePayloads.append(i)
            switch p {
            case let .toNode(slot, id, input):
                guard nodes[slot].core != nil, nodes[slot].id == id else { return }
                if nodes[slot].syncing { nodes[slot].inbox.append(input); return }
                afterInput(slot, [run(input, on: slot)])
            case let .toClient(c, seq, ok, index, term, command, leader):
                guard clients[c].outstanding == seq else { return }
                clients[c].outstanding = nil
                clients[c].leaderHint = leader
                if ok {
                    acks.append(Ack(index: index, term: term, command: command))
                    if !safety.holds(index: index, term: term, command: command) {
                        safety.violate("write \(c)/\(seq) acknowledged at \(index)@\(term) is not what was committed there, at \(time) s")
                    }
                }
                scheduleNextWrite(c)
            }
        case .synced:
            guard nodes[i].core != nil, e.token == nodes[i].incarnation else { return }
            nodes[i].disk.sync()
            nodes[i].syncing = false
            let done = nodes[i].waitingOnSync
            nodes[i].waitingOnSync = []
            for p in done where nodes[i].core != nil { finish(i, p.plan, p.ready) }
            if nodes[i].core != nil { compactIfDue(i) }
            var readies: [RaftReady] = []
            let inbox = nodes[i].inbox
            nodes[i].inbox = []
            for input in inbox where nodes[i].core != nil { readies.append(run(input, on: i)) }
            if nodes[i].tickDue, nodes[i].core != nil {
                nodes[i].tickDue = false
                readies.append(nodes[i].core!.tick(now: MeshTime(nanoseconds: now)))
            }
            afterInput(i, readies)
        case .action: apply(scenario.timeline[i].action, timelineIndex: i)
        case .restart:
            guard nodes[i].core == nil, e.token == nodes[i].incarnation else { return }
            start(i)
        case .clientWrite: write(client: i)
        case .clientTimeout:
            guard clients[i].outstanding == e.token else { return }
            clients[i].outstanding = nil
            clients[i].leaderHint = nil
            scheduleNextWrite(i)
        case .policy:
            runPolicy()
            queue.push(now + ns(.seconds(1)), .policy, 0)
        case .chaos:
            guard case let .chaos(every, until) = scenario.timeline[i].action else { return }
            let start = ns(scenario.warmup)
            if now >= start + ns(until) { healAll(); return }
            chaosStep()
            let gap = ns(every) / 2 + Int64(rng.next() % UInt64(max(1, ns(every))))
            queue.push(now + gap, .chaos, i)
        case .settle:
            switch e.token {
            case 0:
                measuring = true; lastLeader = currentLeader
                lastLeaderTerm = lastLeader.flatMap { slot(of: $0) }.flatMap { nodes[$0].core?.term } ?? .zero
            case 1: measuring = false; healAll()
            default: clientsStopped = true
            }
        }
    }

    /// Feeds one input to a running, idle node.
    mutating func run(_ input: Input, on slot: Int) -> RaftReady {
        let t = MeshTime(nanoseconds: now)
        switch input {
        case let .raft(from, message):
            return nodes[slot].core!.step(message, from: from, now: t)
        case let .request(client, seq, command, forwarded):
            // Read without copying the core: a copy held across `propose` would copy its log.
            let role = nodes[slot].core!.role, leader = nodes[slot].core!.leader
            if role == .leader {
                switch nodes[slot].core!.propose(command, now: t) {
                case let .success((index, term, ready)):
                    nodes[slot].proposals[index, default: []].append((client, seq, term, command))
                    return ready
                case .failure:
                    reply(client, seq, ok: false, leader: leader)
                }
            } else if let leader, !forwarded, let to = self.slot(of: leader) {
                // Forwarded to the leader over the mesh, as ConsensusService does.
                send(.toNode(slot: to, id: leader, .request(client: client, seq: seq, command: command, forwarded: true)), from: slot, to: to)
            } else {
                reply(client, seq, ok: false, leader: leader)
            }
            return RaftReady()
        }
    }

    /// Carries out the readies as the agent's `RaftShell` plans them: a leader's
    /// AppendEntries leave at once, the writes share one fsync, then the rest is sent and
    /// applied, and a commit index that is due is written (unsynced, as the agent does).
    mutating func afterInput(_ slot: Int, _ readies: [RaftReady]) {
        guard let core = nodes[slot].core else { return }
        let t = MeshTime(nanoseconds: now)
        var planned: [(plan: RaftShell.Plan, ready: RaftReady)] = []
        for r in readies where !r.isEmpty {
            let plan = nodes[slot].shell.plan(r, isLeader: core.role == .leader, now: t)
            send(slot, plan.sendFirst)
            if let save = plan.save { nodes[slot].disk.write(save) }
            planned.append((plan, r))
        }
        // What the core committed is recorded before anything of it is applied.
        observe(slot)
        if nodes[slot].disk.hasUnsynced {
            nodes[slot].syncing = true
            nodes[slot].waitingOnSync = planned
            queue.push(now + ns(scenario.fsync), .synced, slot, token: nodes[slot].incarnation)
        } else {
            for p in planned { finish(slot, p.plan, p.ready) }
            compactIfDue(slot)
        }
        rescheduleWake(slot)
    }

    /// After a ready's write is durable: the shell notes it, the rest is sent and applied,
    /// and the commit index is written if the shell says it is due.
    mutating func finish(_ slot: Int, _ plan: RaftShell.Plan, _ ready: RaftReady) {
        let t = MeshTime(nanoseconds: now)
        nodes[slot].shell.saved(plan, of: ready, now: t)
        send(slot, plan.sendAfter)
        dispatch(slot, ready)
        if plan.storeCommitAfterwards, let hard = nodes[slot].core?.hard,
           let save = nodes[slot].shell.commitToStore(hard, now: t) {
            nodes[slot].disk.writeWithoutWaiting(save)
            nodes[slot].shell.committedStored(hard, now: t)
        }
    }

    mutating func send(_ slot: Int, _ messages: [RaftReady.Outgoing]) {
        for m in messages {
            guard let to = self.slot(of: m.to) else { continue }
            send(.toNode(slot: to, id: m.to, .raft(from: nodes[slot].id, m.message)), from: slot, to: to)
        }
    }

    mutating func rescheduleWake(_ slot: Int) {
        guard let core = nodes[slot].core else { return }
        let at = core.nextWakeup.nanoseconds
        guard at != nodes[slot].wakeAt else { return }
        nodes[slot].wakeAt = at
        nodes[slot].wakeToken &+= 1
        queue.push(max(at, now), .wake, slot, token: nodes[slot].wakeToken)
    }

    /// Applies a ready's committed entries (after its fsync and its messages).
    mutating func dispatch(_ slot: Int, _ r: RaftReady) {
        if let s = r.snapshot { restore(slot, from: s) }
        for e in r.committed {
            safety.applied(slot: slot, entry: e, at: time)
            if e.index == nodes[slot].machineIndex.next {
                nodes[slot].machineIndex = e.index
                nodes[slot].machineDigest = RaftSafety.digest(nodes[slot].machineDigest, e)
            } else {
                safety.violate("node \(slot + 1) applied \(e.index) after \(nodes[slot].machineIndex), at \(time) s")
            }
            if let waiting = nodes[slot].proposals.removeValue(forKey: e.index) {
                for p in waiting {
                    let ok = p.term == e.term && p.command == e.command
                    reply(p.client, p.seq, ok: ok, index: e.index, term: e.term, command: p.command, leader: nodes[slot].id)
                }
            }
        }
    }

    /// The shell's side of snapshots: compact once the core says so (persisted with the
    /// next fsync), and restore the state machine from an installed snapshot.
    mutating func compactIfDue(_ slot: Int) {
        guard let core = nodes[slot].core, core.shouldCompact, nodes[slot].machineIndex == core.applied else { return }
        let data = snapshotData(index: nodes[slot].machineIndex, digest: nodes[slot].machineDigest)
        guard let s = nodes[slot].core!.compact(through: nodes[slot].machineIndex, data: data) else { return }
        nodes[slot].disk.write(RaftReady(snapshot: s))
        if !nodes[slot].syncing {
            nodes[slot].syncing = true
            queue.push(now + ns(scenario.fsync), .synced, slot, token: nodes[slot].incarnation)
        }
    }

    func snapshotData(index: LogIndex, digest: UInt64) -> [UInt8] {
        var d: [UInt8] = []
        withUnsafeBytes(of: index.value.littleEndian) { d += $0 }
        withUnsafeBytes(of: digest.littleEndian) { d += $0 }
        for k in 0 ..< scenario.snapshotPaddingBytes { d.append(UInt8(truncatingIfNeeded: k &* 31 &+ Int(index.value))) }
        return d
    }

    /// Restores a node's state machine from a snapshot, checking it is the committed state.
    mutating func restore(_ slot: Int, from s: RaftSnapshot) {
        guard s.data.count >= 16 else { safety.violate("node \(slot + 1) got a snapshot of \(s.data.count) bytes"); return }
        let index = s.data[0 ..< 8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        let digest = s.data[8 ..< 16].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        if index != s.index.value || safety.digest(at: s.index) != digest || s.data != snapshotData(index: s.index, digest: digest) {
            safety.violate("node \(slot + 1) installed a snapshot at \(s.index) that is not the committed state there, at \(time) s")
        }
        nodes[slot].machineIndex = s.index
        nodes[slot].machineDigest = digest
        snapshotsInstalled += 1
    }

    var leaderSlot: Int? { nodes.indices.first { nodes[$0].core?.role == .leader } }

    /// The leader with the highest term among running nodes.
    var currentLeader: NodeID? {
        nodes.compactMap { n in n.core.flatMap { $0.role == .leader ? ($0.term, n.id) : nil } }.max { $0.0 < $1.0 }?.1
    }

    func slot(of id: NodeID) -> Int? {
        let s = Int(id.w0) - 1
        return s >= 0 && s < nodes.count ? s : nil
    }

    mutating func send(_ p: Payload, from: Int, to: Int) {
        guard groups[from] == groups[to] else {
            if Network.refuses(from, to, share: scenario.refusedSendShare) { sendsRefused += 1 }
            return
        }
        if loss > 0, rng.nextUnit() < loss { return }
        if measuring { messagesSent += 1 }
        enqueue(p)
    }

    mutating func enqueue(_ p: Payload) {
        let latency = ns(scenario.baseLatency) + Int64(rng.next() % UInt64(max(1, ns(scenario.spreadLatency))))
        let slot: Int
        if let f = freePayloads.popLast() { slot = f; payloads[f] = p } else { slot = payloads.count; payloads.append(p) }
        queue.push(now + latency, .deliver, slot)
    }

    // MARK: Checks and measurements

    mutating func observe(_ slot: Int) {
        guard let core = nodes[slot].core else { return }
        let newLeader = safety.observe(slot: slot, node: core, at: time)
        if newLeader, measuring { elections += 1 }
        if core.role == .leader, measuring, core.term > lastLeaderTerm {
            if lastLeader != nil, core.id != lastLeader { leaderChanges += 1 }
            lastLeader = core.id
            lastLeaderTerm = core.term
        }
        if let f = openFailover, core.role == .leader, core.id != f.leader || core.term > f.term,
           core.term(at: core.commitIndex) == core.term, core.commitIndex > .zero {
            failovers.append(Double(now - f.since) / 1e9)
            openFailover = nil
        }
        checkStepDown()
        if nodes[slot].wasAbstaining, !core.abstaining { refilled += 1 }
        nodes[slot].wasAbstaining = core.abstaining
    }

    /// The step-down measurement: checked whenever the isolated leader handles an input.
    mutating func checkStepDown() {
        guard let s = openStepDown, let slot = slot(of: s.leader), nodes[slot].id == s.leader else { return }
        if nodes[slot].core?.role != .leader {
            stepDowns.append(Double(now - s.since) / 1e9)
            openStepDown = nil
        }
    }

    // MARK: Clients

    mutating func scheduleNextWrite(_ c: Int) {
        guard !clientsStopped else { return }
        queue.push(now + ns(scenario.clientThink), .clientWrite, c)
    }

    mutating func write(client c: Int) {
        guard !clientsStopped, clients[c].outstanding == nil else { return }
        clients[c].seq += 1
        let seq = clients[c].seq
        clients[c].outstanding = seq
        var command: [UInt8] = [UInt8(truncatingIfNeeded: c), UInt8(truncatingIfNeeded: c >> 8)]
        withUnsafeBytes(of: seq.littleEndian) { command += $0 }
        let target = clients[c].leaderHint.flatMap { slot(of: $0) } ?? Int(rng.next() % UInt64(nodes.count))
        enqueue(.toNode(slot: target, id: nodes[target].id, .request(client: c, seq: seq, command: command, forwarded: false)))
        queue.push(now + ns(scenario.clientTimeout), .clientTimeout, c, token: seq)
    }

    mutating func reply(_ c: Int, _ seq: UInt64, ok: Bool, index: LogIndex = .zero, term: Term = .zero,
                        command: [UInt8] = [], leader: NodeID?) {
        enqueue(.toClient(client: c, seq: seq, ok: ok, index: index, term: term, command: command, leader: leader))
    }

    // MARK: Faults

    mutating func resolve(_ t: RaftTarget) -> Int? {
        switch t {
        case .leader: return currentLeader.flatMap { slot(of: $0) }
        case .follower:
            guard let c = leaderSlot.flatMap({ nodes[$0].core }) else { return nil }
            return c.voters.compactMap { slot(of: $0) }.first { $0 != leaderSlot && nodes[$0].core != nil }
        case let .node(i): return i - 1
        }
    }

    mutating func apply(_ action: RaftFaultAction, timelineIndex: Int) {
        switch action {
        case let .crash(t): if let s = resolve(t) { noteLeaderHit(s, isolate: false); crash(s) }
        case let .restart(t, after):
            if let s = resolve(t) {
                noteLeaderHit(s, isolate: false); crash(s)
                queue.push(now + ns(after), .restart, s, token: nodes[s].incarnation)
            }
        case let .damage(t, fault, after):
            if let s = resolve(t) {
                noteLeaderHit(s, isolate: false); crash(s)
                nodes[s].disk.damage(fault, random: &rng)
                if fault == .wipe {
                    // A wiped data directory is a new identity: the old one is a dead member.
                    retired[nodes[s].id] = now
                    nodes[s].id = Self.nodeID(slot: s, generation: nodes[s].id.w1 + 1)
                }
                queue.push(now + ns(after), .restart, s, token: nodes[s].incarnation)
            }
        case let .isolate(t):
            if let s = resolve(t) { noteLeaderHit(s, isolate: true); isolate(s) }
        case let .partition(percent):
            let first = Int((Double(nodes.count) * percent / 100).rounded())
            var order = Array(nodes.indices)
            shuffle(&order)
            for (k, s) in order.enumerated() { groups[s] = k < first ? 1 : 2 }
            if let l = leaderSlot { noteLeaderHit(l, isolate: true) }
        case .heal: heal()
        case let .loss(p): loss = p
        case .chaos: queue.push(now, .chaos, timelineIndex)
        }
    }

    mutating func isolate(_ s: Int) {
        let g = (groups.max() ?? 0) + 1
        groups[s] = g
    }

    mutating func shuffle(_ a: inout [Int]) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
    }

    /// Starts a failover (and for an isolation, a step-down) measurement when `s` leads.
    mutating func noteLeaderHit(_ s: Int, isolate: Bool) {
        guard measuring, let core = nodes[s].core, core.role == .leader else { return }
        if openFailover == nil { openFailover = (core.id, core.term, now) }
        if isolate, openStepDown == nil { openStepDown = (core.id, now) }
    }

    mutating func crash(_ s: Int) {
        guard nodes[s].core != nil else { return }
        crashes += 1
        nodes[s].disk.crash(tear: scenario.tornWrites && rng.next() % 2 == 0, random: &rng)
        nodes[s].core = nil
        nodes[s].syncing = false
        nodes[s].inbox = []
        nodes[s].waitingOnSync = []
        nodes[s].tickDue = false
        nodes[s].proposals = [:]
        nodes[s].incarnation &+= 1
        nodes[s].crashedAt = now
        nodes[s].wakeAt = .max
    }

    /// Starts a crashed node from its disk; a damaged disk is detected and the node starts
    /// empty and abstaining (it refills as a learner before it may vote again).
    mutating func start(_ s: Int) {
        let voters = (0 ..< scenario.voters).map { Self.nodeID(slot: $0, generation: 0) }
        let learners = (scenario.voters ..< scenario.voters + scenario.learners).map { Self.nodeID(slot: $0, generation: 0) }
        let t = MeshTime(nanoseconds: now)
        switch nodes[s].disk.load() {
        case let .ok(hard, snapshot, log):
            nodes[s].machineIndex = .zero
            nodes[s].machineDigest = 0
            if let snapshot { restore(s, from: snapshot); snapshotsInstalled -= 1 }   // its own, not an install
            nodes[s].core = RaftNode(id: nodes[s].id, voters: voters, learners: learners, settings: scenario.settings,
                                     random: rng.fork(), now: t, hardState: hard, snapshot: snapshot, log: log)
            nodes[s].shell = RaftShell(loaded: hard, now: t)
            safety.restarted(slot: s, commit: hard.commit)
        case .corrupt:
            corruptions += 1
            nodes[s].disk = RaftSimDisk()
            nodes[s].machineIndex = .zero
            nodes[s].machineDigest = 0
            nodes[s].core = RaftNode(id: nodes[s].id, voters: voters, learners: learners, settings: scenario.settings,
                                     random: rng.fork(), now: t, abstaining: true)
            nodes[s].shell = RaftShell(loaded: HardState(), now: t)
            nodes[s].wasAbstaining = true
            safety.restarted(slot: s, commit: .zero)
        }
        if nodes[s].id.w1 > 0 { safety.restarted(slot: s, commit: .zero) }
        nodes[s].crashedAt = nil
        rescheduleWake(s)
    }

    /// Reconnects every node. A leader that was cut off and is still leading never stepped
    /// down and was never replaced: its step-down and failover measurements are dropped.
    mutating func heal() {
        groups = Array(repeating: 0, count: nodes.count)
        if let s = openStepDown, let slot = slot(of: s.leader), nodes[slot].id == s.leader, nodes[slot].core?.role == .leader {
            openStepDown = nil
            if openFailover?.leader == s.leader { openFailover = nil }
        }
    }

    mutating func healAll() {
        heal()
        loss = 0
        for s in nodes.indices where nodes[s].core == nil { start(s) }
    }

    /// One random fault of a Jepsen-style schedule.
    mutating func chaosStep() {
        let running = nodes.indices.filter { nodes[$0].core != nil }
        switch rng.next() % 6 {
        case 0:
            var order = Array(nodes.indices)
            shuffle(&order)
            let cut = 1 + Int(rng.next() % UInt64(max(1, nodes.count - 1)))
            for (k, s) in order.enumerated() { groups[s] = k < cut ? 1 : 2 }
        case 1: if let s = running.pick(using: &rng) { isolate(s) }
        case 2: if let s = leaderSlot { noteLeaderHit(s, isolate: true); isolate(s) }
        case 3:
            if let s = running.pick(using: &rng) {
                noteLeaderHit(s, isolate: false)
                crash(s)
                let down = ns(.seconds(1)) + Int64(rng.next() % UInt64(ns(.seconds(10))))
                queue.push(now + down, .restart, s, token: nodes[s].incarnation)
            }
        case 4: heal()
        default: for s in nodes.indices where nodes[s].core == nil { start(s) }
        }
    }

    // MARK: Voter policy

    mutating func runPolicy() {
        guard let l = leaderSlot, !nodes[l].syncing, let (next, adds) = policyChange(leader: l) else { return }
        if case let .success((_, _, ready)) = nodes[l].core!.proposeConfiguration(next, now: MeshTime(nanoseconds: now)) {
            if adds { voterAdds += 1 }
            afterInput(l, [ready])
        }
    }

    /// What the voter policy asks of the leader in `l`, and whether it adds a voter.
    func policyChange(leader l: Int) -> (RaftConfiguration, Bool)? {
        guard let policy = scenario.policy, let core = nodes[l].core, !core.configurationPending else { return nil }
        var members: [NodeID: VoterPolicy.Member] = [:]
        for n in nodes {
            members[n.id] = VoterPolicy.Member(alive: n.core != nil, downSince: n.crashedAt.map { MeshTime(nanoseconds: $0) })
        }
        // Identities lost to a wipe are dead members since the wipe.
        for (v, since) in retired { members[v] = VoterPolicy.Member(alive: false, downSince: MeshTime(nanoseconds: since)) }
        let match = Dictionary(uniqueKeysWithValues: core.configuration.learners.map { ($0, core.matchIndex[$0] ?? .zero) })
        guard let next = policy.nextChange(leader: core.id, configuration: core.configuration, members: members,
                                           matchIndex: match, lastIndex: core.lastIndex, now: MeshTime(nanoseconds: now),
                                           refilling: core.abstainingPeers) else { return nil }
        return (next, !Set(next.voters).subtracting(core.voters).isEmpty)
    }
}

extension Array {
    func pick(using rng: inout SeededRandom) -> Element? {
        isEmpty ? nil : self[Int(rng.next() % UInt64(count))]
    }
}
