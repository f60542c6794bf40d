import Consensus
import EventLog
import NIOCore
import NIOPosix
import Synchronization
import Logging
import MeshCore
import MeshWire

/// Linearizable reads (ReadIndex, thesis §6.4) and this agent's control replica: the
/// leader's read index, the wait for this replica to apply it, and its repair from the
/// leader's state.
extension ConsensusService {
    /// Waits until this replica has applied everything committed when it was asked. On the
    /// leader: its read index (no log entry; thesis §6.4). Elsewhere: first a quorum read
    /// (`QuorumReads`: a majority of the voters' last indexes, one round trip, no stop on
    /// any consensus thread); when that cannot answer, the leader's read index, then this
    /// replica's apply of it, bounded by `readWaitLimit` before the leader's state is
    /// fetched (`ForwardedReads` skips this actor's thread when it can).
    nonisolated func readBarrier() async -> Result<LogIndex, ConsensusError> {
        guard forwardedReads.leader != nil else { return await replicate([]) }
        if let index = await quorumRead() { return .success(index) }
        guard let leader = forwardedReads.leader else { return await replicate([]) }
        return await withCheckedContinuation { (c: Caller) in
            let requestID = forwardedReads.add(c, leader: leader)
            sendNow(kind: .commandForward, body: ForwardedCommand(requestID: requestID, command: []).encoded, to: leader)
            thread.loop.scheduleTask(in: .nanoseconds(Self.commandTimeout.nanoseconds)) { [forwardedReads] in
                forwardedReads.take(requestID)?.caller.resume(returning: .failure(.timedOut(Self.commandTimeout)))
            }
        }
    }

    /// A quorum read: the index this replica must apply, and has applied when this
    /// returns; nil (counted by reason) when the leader must be asked instead.
    nonisolated func quorumRead() async -> LogIndex? {
        await withCheckedContinuation { (c: QuorumReads.Caller) in
            guard let (requestID, tally) = quorumReads.begin(c) else { return c.resume(returning: nil) }
            var w = ByteWriter()
            w.write(requestID)
            for voter in tally.voters where voter != id { sendNow(kind: .readQuery, body: w.bytes, to: voter) }
            if tally.voters.contains(id) { answerQuorumRead(requestID, quorumReads.answer, from: id) }
            thread.loop.scheduleTask(in: .nanoseconds(QuorumReads.answerTimeout.nanoseconds)) { [quorumReads] in
                guard let caller = quorumReads.take(requestID) else { return }
                quorumReads.fellBack(.timedOut)
                caller.resume(returning: nil)
            }
        }
    }

    /// Counts a voter's answer to a quorum read, on the thread it arrived on; the caller
    /// resumes there when the read is decided and this replica already holds its index.
    nonisolated func answerQuorumRead(_ requestID: UInt64, _ answer: QuorumReadAnswer, from voter: NodeID) {
        guard let (caller, outcome) = quorumReads.offer(requestID, answer, from: voter) else { return }
        guard case let .readIndex(index) = outcome else {
            quorumReads.fellBack(.disagreed)
            return caller.resume(returning: nil)
        }
        if forwardedReads.appliedIndex >= index {
            quorumReads.answered()
            return caller.resume(returning: index)
        }
        // Not `note(commit:)`: the index may be an entry that never commits.
        onOwnThread { service in
            service.whenApplied(index, within: QuorumReads.applyLimit) { applied in
                if applied { service.quorumReads.answered() } else { service.quorumReads.fellBack(.applyWait) }
                caller.resume(returning: applied ? index : nil)
            }
        }
    }

    /// A `readQuery` or `readQueryReply`, handled on the socket's thread (the answer is
    /// what this node last published: `QuorumReads.answer`). True when it was one.
    nonisolated func handleQuorumFrame(_ frame: Frame) -> Bool {
        switch frame.kind {
        case .readQuery:
            do {
                var r = ByteReader(frame.body)
                let requestID = try r.readUInt64()
                try r.expectEnd()
                var w = ByteWriter()
                w.write(requestID)
                quorumReads.answer.encode(into: &w)
                sendNow(kind: .readQueryReply, body: w.bytes, to: frame.sender)
            } catch { undecodable.record(error.reason) }
            return true
        case .readQueryReply:
            do {
                var r = ByteReader(frame.body)
                let requestID = try r.readUInt64()
                let answer = try QuorumReadAnswer.decode(from: &r)
                try r.expectEnd()
                answerQuorumRead(requestID, answer, from: frame.sender)
            } catch { undecodable.record(error.reason) }
            return true
        default:
            return false
        }
    }

    /// Sends a datagram from any thread: posted when the transport can, else sent from a task.
    nonisolated func sendNow(kind: MessageKind, body: [UInt8], to member: NodeID) {
        let transport = transport
        if !transport.post(kind: kind, body: body, to: member, channel: .datagram) {
            Task { await transport.send(kind: kind, body: body, to: member, channel: .datagram) }
        }
    }

    /// A leader's answer to a read sent by `readBarrier`, on the thread it arrived on: the
    /// caller resumes there when this replica has applied the read index, else waits on
    /// this actor. True when the reply was one of those reads.
    nonisolated func answerForwardedRead(_ frame: Frame) -> Bool {
        guard frame.kind == .commandReply, let r = try? CommandReply.decode(frame.body) else { return false }
        return answerForwardedRead(r)
    }

    /// The same for a decoded reply; false when it is not one of those reads.
    nonisolated func answerForwardedRead(_ r: CommandReply) -> Bool {
        guard ForwardedReads.owns(r.requestID) else { return false }
        guard let read = forwardedReads.take(r.requestID) else { return true }    // expired
        guard r.error.isEmpty else {
            read.caller.resume(returning: .failure(.refused(r.error)))
            return true
        }
        let index = LogIndex(r.index)
        if forwardedReads.appliedIndex >= index {
            read.caller.resume(returning: .success(index))
        } else {
            onOwnThread { $0.answerOnceApplied(read.caller, index: index, isRead: true) }
        }
        return true
    }

    /// Tells `forwardedReads` where reads go now and how far this replica has applied.
    func publishReadRoute() {
        let leader = stopped ? nil : leaderForCommands
        let route = leader == id ? nil : leader
        if forwardedReads.leader != route { forwardedReads.setLeader(route) }
        forwardedReads.setApplied(replica.appliedIndex)
        quorumReads.setReplica(configuration: replica.configuration, applied: replica.appliedIndex)
        publishQuorumAnswer()
    }

    /// Publishes what this node answers a quorum read: called before anything that
    /// depends on its log is sent (`execute`), so an entry it acknowledged is in it.
    func publishQuorumAnswer() {
        quorumReads.setAnswer(stopped ? .silent : QuorumReadAnswer(node))
    }

    /// Asks the core for a read index (on the leader), in batches: reads that arrive while
    /// this actor is busy share one heartbeat round.
    func requestRead(_ waiter: ReadWaiter) {
        let id = nextReadID
        nextReadID += 1
        readWaiters[id] = waiter
        readBatch.append(id)
        guard readBatch.count == 1 else { return }
        onOwnThread { $0.flushReads() }
    }

    func flushReads() {
        let ids = readBatch
        readBatch = []
        switch node.readIndex(ids, now: now()) {
        case let .failure(e):
            for id in ids { answerRead(ReadState(id: id, index: nil), error: e.description) }
        case let .success(ready):
            execute(ready)
            rearmIfMoved()
        }
    }

    /// A read index confirmed (or refused) by the core: answered once this replica has
    /// applied it (at once on the leader, which applies as it commits).
    func answerRead(_ r: ReadState, error: String? = nil) {
        guard let waiter = readWaiters.removeValue(forKey: r.id) else { return }
        let why = error ?? "the leader changed before it confirmed the read; retry"
        switch waiter {
        case let .local(c):
            guard let index = r.index else { return c.resume(returning: .failure(.leaderChanged)) }
            answerOnceApplied(c, index: index, isRead: true)
        case let .remote(member, requestID):
            reply(CommandReply(requestID: requestID, index: r.index?.value ?? 0, error: r.index == nil ? why : ""), to: member)
        case let .state(member, requestID):
            guard let index = r.index else {
                return post(Outbound(kind: .controlStateReply, body: ControlStateReply(requestID: requestID, index: 0, state: [], error: why).encoded, to: member))
            }
            whenApplied(index, within: Self.readWaitLimit) { [self] _ in
                var answer = ControlStateReply(requestID: requestID, index: replica.appliedIndex.value, state: state.snapshot, error: "",
                                               configuration: replica.configuration.map { .init(index: $0.index.value, voters: $0.voters) })
                if replica.appliedIndex < index { answer = ControlStateReply(requestID: requestID, index: 0, state: [], error: "the leader's replica lags its commit index; retry") }
                if answer.state.count > Self.maxControlStateBytes {
                    answer = ControlStateReply(requestID: requestID, index: 0, state: [],
                                               error: "the control state has \(answer.state.count) bytes; at most \(Self.maxControlStateBytes) are sent at once")
                }
                post(Outbound(kind: .controlStateReply, body: answer.encoded, to: member))
            }
        }
    }

    /// Resumes `caller` once this replica has applied `index` (a read index, or the index
    /// a forwarded write committed at: read-your-writes on the agent that took it). After
    /// `readWaitLimit` the leader's control state is fetched and installed instead; a read
    /// that still cannot be answered fails, a write (committed anyway) answers.
    func answerOnceApplied(_ caller: Caller, index: LogIndex, isRead: Bool) {
        replica.note(commit: index, now: now())
        whenApplied(index, within: Self.readWaitLimit) { [self] applied in
            if applied { return caller.resume(returning: .success(index)) }
            fetchState { [self] _ in
                if replica.appliedIndex >= index || !isRead { return caller.resume(returning: .success(index)) }
                caller.resume(returning: .failure(.refused("this agent's replica is at \(replica.appliedIndex), behind the leader's \(index), and the leader's state could not be fetched")))
            }
        }
    }

    /// Calls `then(true)` once the replica has applied `index`, or `then(false)` after `limit`.
    func whenApplied(_ index: LogIndex, within limit: Duration, _ then: @escaping (Bool) -> Void) {
        guard replica.appliedIndex < index else { return then(true) }
        let id = nextApplyWaiterID
        nextApplyWaiterID += 1
        applyWaiters.append((index, id, then))
        onOwnThread(after: limit) { service in
            guard let i = service.applyWaiters.firstIndex(where: { $0.id == id }) else { return }
            service.applyWaiters.remove(at: i).then(false)
        }
    }

    func setOnReplicaAdvanced(_ f: @escaping @Sendable () -> Void) { onReplicaAdvanced = f }

    func wakeApplyWaiters() {
        publishReadRoute()
        // Every path that moves the replica (Raft's apply, the leader's events, a state
        // install) ends here: the bans it holds now are the ones every frame check uses.
        if let bans, replica.state.banned.count != bans.count || !replica.state.banned.keys.allSatisfy(bans.contains) {
            bans.set(Set(replica.state.banned.keys))
        }
        if replica.appliedIndex != signalledIndex {
            signalledIndex = replica.appliedIndex
            onReplicaAdvanced?()
        }
        guard applyWaiters.contains(where: { $0.index <= replica.appliedIndex }) else { return }
        let done = applyWaiters.filter { $0.index <= replica.appliedIndex }
        applyWaiters.removeAll { $0.index <= replica.appliedIndex }
        for w in done { w.then(true) }
    }

    /// Asks the leader for its control state (`controlStateRequest`; the leader confirms a
    /// read index first) and installs it; one request in flight, shared by whoever asks
    /// meanwhile. `done(true)` when a state was installed or this replica is already there.
    func fetchState(_ done: @escaping (Bool) -> Void) {
        if stateFetch != nil { stateFetch!.done.append(done); return }
        guard let leader = leaderForCommands, leader != id else { return done(false) }
        let requestID = nextRequestID
        nextRequestID += 1
        stateFetch = (requestID, [done])
        var w = ByteWriter()
        w.write(requestID)
        post(Outbound(kind: .controlStateRequest, body: w.bytes, to: leader))
        onOwnThread(after: Self.commandTimeout) { $0.finishFetch(requestID, false) }
    }

    func finishFetch(_ requestID: UInt64, _ ok: Bool) {
        guard let f = stateFetch, f.requestID == requestID else { return }
        stateFetch = nil
        for d in f.done { d(ok) }
    }

    /// `control.*` events received from peers, for the replica (any order, duplicates
    /// welcome). Handed to this actor's thread like a frame.
    nonisolated func offerPublished(_ events: [Event]) {
        let entries = events.compactMap(ControlEvents.committedEntry)
        guard !entries.isEmpty else { return }
        onOwnThread { service in
            _ = service.replica.offer(entries, now: service.now())
            service.wakeApplyWaiters()
        }
    }

    /// The same, awaited (the start-up replay of the stored events).
    func offerStored(_ events: [Event]) {
        _ = replica.offer(events.compactMap(ControlEvents.committedEntry), now: now())
        wakeApplyWaiters()
    }

    static func text(_ r: ControlResult) -> String {
        switch r {
        case .ok: ""
        case let .refused(why): why
        }
    }
}
