@testable import Consensus
import MeshCore

func rid(_ i: Int) -> NodeID { NodeID(w0: UInt64(i), w1: 0, w2: 0, w3: 0) }

/// A Raft cluster on virtual time with a lossy, partitionable network, crash/restart from
/// each node's persisted state, and Raft's safety properties checked on every step.
struct RaftCluster {
    struct Disk { var hard = HardState(); var log: [LogEntry] = [] }

    var nodes: [Int: RaftNode] = [:]
    var disks: [Int: Disk] = [:]
    /// Each node's shell policy, as the agent and the simulator run it.
    var shells: [Int: RaftShell] = [:]
    var crashed: Set<Int> = []
    var groups: [Int: Int] = [:]     // partition group per node; messages cross only within a group
    var loss = 0.0
    var now = MeshTime.zero
    var rng: SeededRandom
    var inflight: [(at: MeshTime, order: Int, to: Int, from: Int, message: RaftMessage)] = []
    var order = 0
    let ids: [Int]
    let settings: RaftSettings
    /// Applied commands per node, in order.
    var applied: [Int: [LogEntry]] = [:]
    var leadersByTerm: [Term: Int] = [:]
    var violations: [String] = []
    /// Proposals acknowledged (committed and applied at the proposer) as (index, term, command).
    var acknowledged: [(LogIndex, Term, [UInt8])] = []
    var waiting: [Int: [(LogIndex, Term, [UInt8])]] = [:]

    /// The configuration every node starts from (its log's configurations then rule); all
    /// nodes voters when nil.
    var initialConfiguration: (voters: [Int], learners: [Int])?

    init(size: Int, seed: UInt64, settings: RaftSettings = .lan, voters: [Int]? = nil) {
        if let voters { initialConfiguration = (voters, Array(1 ... size).filter { !voters.contains($0) }) }
        ids = Array(1 ... size)
        self.settings = settings
        rng = SeededRandom(seed: seed)
        for i in ids { disks[i] = Disk(); start(i) }
    }

    mutating func start(_ i: Int) {
        let d = disks[i]!
        nodes[i] = RaftNode(id: rid(i), voters: (initialConfiguration?.voters ?? ids).map(rid),
                            learners: (initialConfiguration?.learners ?? []).map(rid), settings: settings, random: rng.fork(), now: now,
                            hardState: d.hard, log: d.log)
        shells[i] = RaftShell(loaded: d.hard, now: now)
        applied[i] = []
        waiting[i] = []
    }

    mutating func crash(_ i: Int) { crashed.insert(i); inflight.removeAll { $0.to == i } }
    mutating func restart(_ i: Int) { crashed.remove(i); start(i) }

    func index(_ id: NodeID) -> Int { Int(id.w0) }

    /// Carries out a ready as `RaftShell` plans it; a save is durable at once.
    mutating func execute(_ i: Int, _ r: RaftReady) {
        let plan = shells[i]!.plan(r, isLeader: nodes[i]!.role == .leader, now: now)
        deliver(from: i, plan.sendFirst)
        if let save = plan.save { write(i, save) }
        shells[i]!.saved(plan, of: r, now: now)
        deliver(from: i, plan.sendAfter)
        for e in r.committed {
            applied[i]!.append(e)
            if let w = waiting[i]!.firstIndex(where: { $0.0 == e.index }) {
                let p = waiting[i]!.remove(at: w)
                if p.1 == e.term && p.2 == e.command { acknowledged.append(p) }
            }
        }
        if plan.storeCommitAfterwards, let hard = nodes[i]?.hard, let save = shells[i]!.commitToStore(hard, now: now) {
            write(i, save)
            shells[i]!.committedStored(hard, now: now)
        }
        check()
    }

    mutating func write(_ i: Int, _ r: RaftReady) {
        var d = disks[i]!
        if let h = r.hardState { d.hard = h }
        if let t = r.truncateFrom { d.log.removeSubrange((Int(t.value) - 1)...) }
        for e in r.entries {
            if Int(e.index.value) - 1 < d.log.count { d.log.removeSubrange((Int(e.index.value) - 1)...) }
            d.log.append(e)
        }
        disks[i] = d
    }

    mutating func deliver(from i: Int, _ messages: [RaftReady.Outgoing]) {
        for m in messages {
            let j = index(m.to)
            guard groups[i, default: 0] == groups[j, default: 0], rng.nextUnit() >= loss else { continue }
            order += 1
            let latency = Duration.microseconds(500 + Int64(rng.next() % 1500))
            inflight.append((now + latency, order, j, i, m.message))
        }
    }

    /// Raft's safety properties (figure 3): election safety, state machine safety.
    mutating func check() {
        for (i, n) in nodes where !crashed.contains(i) && n.role == .leader {
            if let other = leadersByTerm[n.term], other != i {
                violations.append("two leaders in term \(n.term): \(other) and \(i) at \(now)")
            }
            leadersByTerm[n.term] = i
        }
        let sequences = applied.values.sorted { $0.count > $1.count }
        guard let longest = sequences.first else { return }
        for s in sequences.dropFirst() where !longest.starts(with: s) {
            violations.append("applied sequences diverge at \(now)")
            return
        }
    }

    mutating func propose(_ command: [UInt8]) -> Bool {
        guard let (i, _) = nodes.first(where: { !crashed.contains($0.key) && $0.value.role == .leader }) else { return false }
        switch nodes[i]!.propose(command, now: now) {
        case let .success((index, term, ready)):
            waiting[i]!.append((index, term, command))
            execute(i, ready)
            return true
        case .failure: return false
        }
    }

    mutating func advance(by d: Duration) {
        let end = now + d
        while true {
            let msg = inflight.min { ($0.at, $0.order) < ($1.at, $1.order) }
            let wake = nodes.filter { !crashed.contains($0.key) }.map { ($0.value.nextWakeup, $0.key) }.min { $0 < $1 }
            let tm = msg?.at ?? MeshTime(nanoseconds: .max), tw = wake?.0 ?? MeshTime(nanoseconds: .max)
            guard min(tm, tw) <= end else { now = end; return }
            now = max(now, min(tm, tw))
            if let m = msg, tm <= tw {
                inflight.removeAll { $0.order == m.order }
                guard !crashed.contains(m.to) else { continue }
                let r = nodes[m.to]!.step(m.message, from: rid(m.from), now: now)
                execute(m.to, r)
            } else if let (_, i) = wake {
                let r = nodes[i]!.tick(now: now)
                execute(i, r)
            }
        }
    }

    var leader: Int? { nodes.filter { !crashed.contains($0.key) && $0.value.role == .leader }.map(\.key).sorted().last }
}
