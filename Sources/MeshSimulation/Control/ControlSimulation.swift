import Consensus
import EventLog
import MeshCore
import MeshWire

/// What a queued event of the control engine is about.
enum ControlEventKind: UInt8, Sendable {
    /// Node `index`'s Raft timer (stale unless its sequence number is the node's Raft wake-up token).
    case raftWake
    /// Node `index`'s replicator timer (stale unless its sequence number is the node's current one).
    case logWake
    /// Deliver in-flight payload `index`.
    case deliver
    /// The client's next write.
    case write
    /// Node `index` publishes what it applied since its previous publish.
    case publish
    /// The lag bound and the repairs.
    case check
    /// `token` 0: the measured period starts; 1: it ends.
    case phase
}

/// A deterministic simulation of how every member holds the committed control state
/// (issue 18): the real `RaftNode` among the voters, the leader publishing each committed
/// entry as a `control.*` event (`ControlEvents`) through the real event-log `Replicator`
/// to all N nodes, and each node applying through the real `ControlReplica`; or, for
/// comparison, every other node a Raft learner (`distribute learners`).
///
/// The model (simulations/README.md, "Control replica"):
/// - One network (`Network`: latency, jitter, loss) carries Raft, the event log and the
///   state fetches. A body that fits a datagram goes as one, a larger one as a stream, as
///   the agent's `FrameChannel.fitting` does; bytes are `body + frameOverheadBytes`.
/// - Raft's storage is not modelled (an fsync takes no time); what is measured starts at
///   the leader's commit.
/// - Membership is an oracle: every node's event-log peers are all the others, and a
///   replica that needs a repair asks the current leader, which answers with its replica's
///   state at once (the agent first confirms a read index: one heartbeat round more).
/// - Voters apply from Raft and from the events; only the leader publishes (a follower's
///   held entries, for when it becomes leader, are not modelled: the invariant
///   `one_leader_throughout` requires the leader not to change).
public struct ControlSimulation {
    public let scenario: ControlScenario
    public let seed: UInt64
    /// `--nodes`, when it overrode the scenario's count (for the reproduce line).
    let nodesOverride: Int?
    let ids: [NodeID]
    let keys: [SigningKeyPair]
    let slotOf: [NodeID: Int]
    let table: EventTable
    let clock = VirtualNow()
    var network: Network
    var queue = EventQueue<ControlEventKind>(capacity: 1 << 14)
    var nodes: [Node] = []
    var payloads: [Delivery?] = []
    var freePayloads: [Int32] = []
    var now: Int64 = 0
    let measureFrom: Int64
    let measureTo: Int64
    let endTime: Int64
    var measuring = false
    var writes = 0

    // The leader, and what it committed.
    /// The leader when the measured period started, and its term.
    var measuredLeader: (slot: Int, term: Term)?
    /// When the leader committed each index (`commitAt[index - 1]`; -1: not yet).
    var commitAt: [Int64] = []
    /// The leader's control state after each index it applied.
    var leaderStates: [LogIndex: ControlState] = [:]
    /// Indexes the leader committed within the measured period.
    var measured: ClosedRange<UInt64>?

    // Measurements.
    var lags: [Int64] = []
    var leaderSent: [MessageKind: (messages: Int, bytes: Int)] = [:]
    var totalMessages = 0, totalBytes = 0
    var repairs = 0
    var writesRefused = 0
    var statesChecked = 0
    var violations: [ControlViolation] = []
    var violationCount: [ControlInvariant: Int] = [:]

    struct Node {
        var raft: RaftNode?
        var raftWakeToken: UInt64 = .max
        var raftWakeAt: Int64 = .max
        var replicator: Replicator<InternedEventStore>?
        var logWakeToken: UInt64 = .max
        var logWakeAt: Int64 = .max
        var replica: ControlReplica
        /// Applied by this voter, not yet published (the leader's publish batch).
        var toPublish: [(LogEntry, ControlCommand?, ControlResult)] = []
        var publishQueued = false
        /// A state fetch in flight since then.
        var fetchSince: Int64?
        /// Reported late already (`replica_lag_within_bound` counts a node once per check).
        var lateReported: UInt64 = 0
    }

    enum Payload {
        case raft(RaftMessage)
        case log(ReplicationMessage)
        case stateRequest
        case stateReply(index: LogIndex, state: [UInt8])
    }

    struct Delivery {
        var from: Int32
        var to: Int32
        var payload: Payload
    }

    public init(scenario original: ControlScenario, seed: UInt64? = nil, nodes nodeOverride: Int? = nil) throws(ScenarioError) {
        var scenario = original
        if let nodeOverride { scenario.nodes = nodeOverride }
        guard scenario.nodes >= scenario.voters, scenario.nodes <= ControlSimulationLimits.maxNodes else {
            throw .invalid(key: "nodes", value: "\(scenario.nodes)", allowed: "\(scenario.voters) ... \(ControlSimulationLimits.maxNodes)")
        }
        self.scenario = scenario
        self.seed = seed ?? scenario.seed
        nodesOverride = nodeOverride == original.nodes ? nil : nodeOverride
        var root = SeededRandom(seed: self.seed)
        network = Network(nodes: scenario.nodes, parameters: scenario.network, random: root.fork())
        var keys: [SigningKeyPair] = []
        for _ in 0 ..< scenario.nodes {
            var r = root.fork()
            let seedBytes = (0 ..< 4).flatMap { _ in withUnsafeBytes(of: r.next().bigEndian, Array.init) }
            keys.append(SigningKeyPair(seed: seedBytes)!)
        }
        self.keys = keys
        ids = keys.map(\.nodeID)
        var slotOf: [NodeID: Int] = [:]
        for (i, id) in ids.enumerated() { slotOf[id] = i }
        self.slotOf = slotOf
        table = EventTable(ids: ids)
        measureFrom = scenario.warmup.nanoseconds
        measureTo = measureFrom + scenario.duration.nanoseconds
        endTime = measureTo + scenario.settle.nanoseconds

        let voters = Array(ids.prefix(scenario.voters))
        let learners = scenario.distribution == .learners ? Array(ids.dropFirst(scenario.voters)) : []
        let empty = InternedEventStore(table: table, clock: clock)
        for i in 0 ..< scenario.nodes {
            var n = Node(replica: ControlReplica(now: .zero, settings: scenario.replica))
            if i < scenario.voters || scenario.distribution == .learners {
                n.raft = RaftNode(id: ids[i], voters: voters, learners: learners, settings: scenario.raftSettings,
                                  random: root.fork(), now: .zero)
            }
            if scenario.distribution == .events {
                var r = try! Replicator(store: empty, key: keys[i], settings: scenario.replicationSettings, random: root.fork(), now: .zero)
                r.assumeOwnHistoryComplete()     // a new mesh: nobody has history yet
                r.setPeers(ids)
                n.replicator = r
            }
            nodes.append(n)
        }
        for i in nodes.indices { rearmRaft(i); rearmLog(i) }
        queue.push(time: measureFrom, kind: .phase, index: 0, token: 0)
        queue.push(time: measureTo, kind: .phase, index: 0, token: 1)
        queue.push(time: measureFrom, kind: .write, index: 0)
        queue.push(time: ControlSimulationLimits.checkInterval.nanoseconds, kind: .check, index: 0)
    }

    // MARK: running

    /// Runs to the end of the settle period and returns the report (without wall time).
    public mutating func run() -> ControlSimReport {
        while let top = queue.peekTime, top <= endTime {
            let e = queue.pop()!
            now = e.time
            clock.nanoseconds = now
            let i = Int(e.index)
            switch e.kind {
            case .raftWake:
                guard e.seq == nodes[i].raftWakeToken, nodes[i].raft != nil else { continue }
                nodes[i].raftWakeToken = .max
                let ready = nodes[i].raft!.tick(now: t)
                dispatch(i, ready)
            case .logWake:
                guard e.seq == nodes[i].logWakeToken, nodes[i].replicator != nil else { continue }
                nodes[i].logWakeToken = .max
                execute(nodes[i].replicator!.tick(now: t), of: i)
                rearmLog(i)
            case .deliver:
                let d = payloads[i]!
                payloads[i] = nil
                freePayloads.append(Int32(i))
                deliver(d)
            case .write: write()
            case .publish: publish(i)
            case .check:
                check()
                queue.push(time: now + ControlSimulationLimits.checkInterval.nanoseconds, kind: .check, index: 0)
            case .phase:
                if e.token == 0 {
                    measuring = true
                    if let l = leaderSlot { measuredLeader = (l, nodes[l].raft!.term) }
                } else {
                    measuring = false
                }
            }
        }
        now = endTime
        clock.nanoseconds = now
        return finish()
    }

    var t: MeshTime { MeshTime(nanoseconds: now) }
    var wall: UInt64 { ControlSimulationLimits.wallEpochMilliseconds + UInt64(now / 1_000_000) }

    /// The running leader with the highest term.
    var leaderSlot: Int? {
        var best: (Int, Term)?
        for i in 0 ..< scenario.voters {
            guard let r = nodes[i].raft, r.role == .leader else { continue }
            if best.map({ r.term > $0.1 }) ?? true { best = (i, r.term) }
        }
        return best?.0
    }

    mutating func deliver(_ d: Delivery) {
        let to = Int(d.to), from = Int(d.from)
        switch d.payload {
        case let .raft(m):
            guard nodes[to].raft != nil else { return }
            dispatch(to, nodes[to].raft!.step(m, from: ids[from], now: t))
        case let .log(m):
            guard nodes[to].replicator != nil else { return }
            execute(nodes[to].replicator!.receive(m, from: ids[from], now: t, wallMilliseconds: wall), of: to)
            rearmLog(to)
        case .stateRequest:
            // The leader answers with its replica's state (`ControlStateReply`).
            guard nodes[to].raft?.role == .leader else { return }
            send(.stateReply(index: nodes[to].replica.appliedIndex, state: nodes[to].replica.state.snapshot), from: to, to: from)
        case let .stateReply(index, state):
            nodes[to].fetchSince = nil
            guard let s = try? ControlState(snapshot: state) else {
                return violate(.stateEqualsLeaders, "n\(to) could not decode the leader's state at \(index)")
            }
            let before = nodes[to].replica.appliedIndex
            guard nodes[to].replica.install(s, at: index, now: t) else { return }
            repairs += 1
            applied(to, from: before)
        }
    }

    // MARK: Raft

    mutating func rearmRaft(_ i: Int) {
        guard let at = nodes[i].raft?.nextWakeup.nanoseconds else { return }
        let when = max(at, now)
        if nodes[i].raftWakeToken != .max, nodes[i].raftWakeAt == when { return }
        nodes[i].raftWakeAt = when
        nodes[i].raftWakeToken = queue.push(time: when, kind: .raftWake, index: Int32(i))
    }

    /// Sends a ready's messages and applies its committed entries (storage takes no time).
    mutating func dispatch(_ i: Int, _ ready: RaftReady) {
        for m in ready.messages {
            guard let to = slotOf[m.to] else { continue }
            send(.raft(m.message), from: i, to: to)
        }
        let leading = nodes[i].raft!.role == .leader
        for entry in ready.committed {
            if leading {
                let k = Int(entry.index.value)
                if commitAt.count < k { commitAt += [Int64](repeating: -1, count: k - commitAt.count) }
                if commitAt[k - 1] < 0 {
                    commitAt[k - 1] = now
                    if measuring { measured = (measured?.lowerBound ?? entry.index.value) ... entry.index.value }
                }
            }
            let before = nodes[i].replica.appliedIndex
            let results = nodes[i].replica.offer([CommittedEntry(entry)], now: t)
            if leading {
                if let last = results.last?.0.index, leaderStates[last] == nil { leaderStates[last] = nodes[i].replica.state }
            } else if !results.isEmpty {
                applied(i, from: before)
            }
            if leading, scenario.distribution == .events, let result = results.first(where: { $0.0.index == entry.index })?.1 {
                let command = entry.kind == .command && !entry.command.isEmpty ? try? ControlCommand.decode(entry.command) : nil
                nodes[i].toPublish.append((entry, command, result))
            }
        }
        if let r = nodes[i].raft { nodes[i].replica.note(commit: r.commitIndex, now: t) }
        if !nodes[i].toPublish.isEmpty, !nodes[i].publishQueued {
            nodes[i].publishQueued = true
            queue.push(time: now + scenario.publishInterval.nanoseconds, kind: .publish, index: Int32(i))
        }
        rearmRaft(i)
    }

    /// The client's write: a variable set on the leader, then the next one.
    mutating func write() {
        guard now < measureTo else { return }
        queue.push(time: now + Int64((1e9 / scenario.writesPerSecond).rounded()), kind: .write, index: 0)
        guard let l = leaderSlot else { writesRefused += 1; return }
        writes += 1
        let text = "\(writes)-"
        let value = text + String(repeating: "v", count: max(0, scenario.valueBytes - text.utf8.count))
        let command = ControlCommand(.setVar(key: "k\(writes % scenario.keys)", value: value), requester: "sim", via: ids[l])
        switch nodes[l].raft!.propose(command.encoded, now: t) {
        case let .success((_, _, ready)): dispatch(l, ready)
        case .failure: writesRefused += 1
        }
    }

    /// The leader publishes what it applied since its previous publish, one event per entry
    /// (`ControlPublisher`); a node that no longer leads drops it.
    mutating func publish(_ i: Int) {
        nodes[i].publishQueued = false
        let batch = nodes[i].toPublish
        nodes[i].toPublish = []
        guard nodes[i].raft?.role == .leader else { return }
        for (entry, command, result) in batch {
            guard let (kind, attributes) = ControlEvents.applied(entry, command, result) else { continue }
            do {
                let (_, effects) = try nodes[i].replicator!.append(kind: kind, attributes: attributes, wallMilliseconds: wall, now: t)
                execute(effects, of: i)
            } catch {
                violate(.noEventRejected, "the leader n\(i) could not append the event of \(entry.index): \(error)")
            }
        }
        rearmLog(i)
    }

    // MARK: the event log

    mutating func rearmLog(_ i: Int) {
        guard let wake = nodes[i].replicator?.nextWakeup else { return }
        let when = max(wake.nanoseconds, now)
        if nodes[i].logWakeToken != .max, nodes[i].logWakeAt == when { return }
        nodes[i].logWakeAt = when
        nodes[i].logWakeToken = queue.push(time: when, kind: .logWake, index: Int32(i))
    }

    mutating func execute(_ effects: [ReplicationEffect], of i: Int) {
        for effect in effects {
            switch effect {
            case let .send(message, to):
                guard let j = slotOf[to] else { continue }
                send(.log(message), from: i, to: j)
            case let .stored(events):
                // As `EventLogService.execute` → `ConsensusService.offerPublished`.
                let entries = events.filter { $0.kind.hasPrefix("control.") && $0.origin != ids[i] }.compactMap(ControlEvents.committedEntry)
                guard !entries.isEmpty else { continue }
                let before = nodes[i].replica.appliedIndex
                if !nodes[i].replica.offer(entries, now: t).isEmpty { applied(i, from: before) }
            case let .rejected(origin, seq, error):
                violate(.noEventRejected, "n\(i) refused \(origin)/\(seq): \(error)")
            }
        }
    }

    // MARK: the network

    mutating func send(_ p: Payload, from: Int, to: Int) {
        let kind: MessageKind, body: Int
        switch p {
        case let .raft(m): kind = m.kind; body = m.encoded.count
        case let .log(m): kind = m.kind; body = m.encodedSize
        case .stateRequest: kind = .controlStateRequest; body = 8
        // `ControlStateReply.encoded`: request id, index, the state as a blob, an empty error.
        case let .stateReply(_, state): kind = .controlStateReply; body = 8 + 8 + 4 + state.count + 4
        }
        let bytes = body + WireLimits.frameOverheadBytes
        if measuring {
            totalMessages += 1
            totalBytes += bytes
            if from == measuredLeader?.slot {
                leaderSent[kind, default: (0, 0)].messages += 1
                leaderSent[kind, default: (0, 0)].bytes += bytes
            }
        }
        let route = body <= WireLimits.maxDatagramBodyBytes
            ? network.routeDatagram(from: from, to: to, bytes: bytes, now: now)
            : network.routeStream(from: from, to: to, bytes: bytes, now: now, isRequest: true)
        guard route.dropped == nil else { return }
        let d = Delivery(from: Int32(from), to: Int32(to), payload: p)
        for arrival in [route.arrival, route.duplicateArrival] where arrival >= 0 {
            let slot: Int32
            if let free = freePayloads.popLast() { slot = free; payloads[Int(free)] = d } else {
                payloads.append(d); slot = Int32(payloads.count - 1)
            }
            queue.push(time: arrival, kind: .deliver, index: slot)
        }
    }

    // MARK: invariants and measurements

    /// Node `i`'s replica moved from `before`: it applied in index order, each measured
    /// index's lag is a sample, and its state is the leader's at its new index.
    mutating func applied(_ i: Int, from before: LogIndex) {
        let after = nodes[i].replica.appliedIndex
        guard after > before else {
            return violate(.appliedInIndexOrder, "n\(i) went from \(before) to \(after)")
        }
        if let m = measured, max(before.value + 1, m.lowerBound) <= min(after.value, m.upperBound) {
            for k in max(before.value + 1, m.lowerBound) ... min(after.value, m.upperBound) {
                let lag = max(0, now - commitAt[Int(k) - 1])
                lags.append(lag)
                if lag > scenario.lagBound.nanoseconds {
                    violate(.lagWithinBound, "n\(i) applied \(k) \(Report.format(Double(lag) / 1e9)) s after the leader committed it")
                }
            }
        }
        guard let expected = leaderStates[after] else { return }
        statesChecked += 1
        if nodes[i].replica.state != expected {
            violate(.stateEqualsLeaders, "n\(i)'s state at \(after) differs from the leader's (digest \(Self.digest(nodes[i].replica.state)) vs \(Self.digest(expected)))")
        }
    }

    /// Every `checkInterval`: a member still behind an index the leader committed more
    /// than `lagBound` ago breaks the bound (once per node and index reported); a replica
    /// that needs a repair asks the leader for its state.
    mutating func check() {
        var due: UInt64 = 0
        if let m = measured {
            var k = m.upperBound
            while k >= m.lowerBound, commitAt[Int(k) - 1] + scenario.lagBound.nanoseconds >= now { k -= 1 }
            if k >= m.lowerBound { due = k }
        }
        let leader = leaderSlot
        for i in nodes.indices where i != leader {
            let applied = nodes[i].replica.appliedIndex.value
            if due > 0, applied < due, nodes[i].lateReported < due {
                nodes[i].lateReported = due
                violate(.lagWithinBound, "n\(i) has applied \(applied), behind \(due), which the leader committed more than \(scenario.lagBound) ago")
            }
            if let since = nodes[i].fetchSince, now - since >= ControlSimulationLimits.stateFetchTimeout.nanoseconds { nodes[i].fetchSince = nil }
            if let l = leader, nodes[i].fetchSince == nil, nodes[i].replica.needsRepair(now: t) {
                nodes[i].fetchSince = now
                send(.stateRequest, from: i, to: l)
            }
        }
    }

    mutating func violate(_ invariant: ControlInvariant, _ detail: String) {
        violationCount[invariant, default: 0] += 1
        if violations.filter({ $0.invariant == invariant }).count < ControlSimulationLimits.violationsKept {
            violations.append(ControlViolation(invariant: invariant, atSeconds: Double(now) / 1e9, detail: detail))
        }
    }

    /// FNV-1a of a state's snapshot encoding (equal states encode to equal bytes).
    static func digest(_ s: ControlState) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.snapshot { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    // MARK: the end

    mutating func finish() -> ControlSimReport {
        let leader = leaderSlot
        if let m = measuredLeader {
            if leader != m.slot || nodes[m.slot].raft?.term != m.term {
                violate(.oneLeader, "n\(m.slot) led at the start of the measured period; at the end \(leader.map { "n\($0)" } ?? "none") leads")
            }
        } else {
            violate(.oneLeader, "no leader at the end of the warm-up (\(scenario.warmup))")
        }
        var digests: Set<UInt64> = []
        if let l = leader {
            let commit = nodes[l].raft!.commitIndex
            var behind = 0
            for i in nodes.indices where nodes[i].replica.appliedIndex != commit {
                behind += 1
                if behind <= 3 { violate(.caughtUpAtEnd, "n\(i) has applied \(nodes[i].replica.appliedIndex) of the leader's \(commit)") }
            }
            if behind > 3 { violate(.caughtUpAtEnd, "\(behind) nodes in all are behind") }
            for i in nodes.indices { digests.insert(Self.digest(nodes[i].replica.state)) }
        }
        return ControlSimReport(simulation: self, leader: leader, distinctDigests: digests.count)
    }
}

/// What the control engine checks.
public enum ControlInvariant: String, Sendable, CaseIterable {
    /// Every member applies each write committed in the measured period within
    /// `lag_bound` of the leader's commit of it.
    case lagWithinBound = "replica_lag_within_bound"
    /// A replica only ever moves forward, one index at a time or by a state install.
    case appliedInIndexOrder = "applied_in_index_order"
    /// After each advance, a member's state equals the leader's state at the same index.
    case stateEqualsLeaders = "state_equals_leaders_at_index"
    /// At the end every node has applied the leader's commit index (equal states).
    case caughtUpAtEnd = "caught_up_at_end"
    /// The leader of the measured period leads to the end (the per-commit cost is its own).
    case oneLeader = "one_leader_throughout"
    /// No core refused an event (no forging node here).
    case noEventRejected = "no_event_rejected"
}

public typealias ControlViolation = Violation<ControlInvariant>
