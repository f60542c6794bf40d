import Consensus
import EventLog
import NIOCore
import NIOPosix
import Synchronization
import Logging
import MeshCore
import MeshWire

/// Commands: proposed on the leader in group commits, forwarded to it from anywhere else,
/// and answered once applied.
extension ConsensusService {
    /// Runs a command through the leader; returns the index it was applied at, after its
    /// commit and apply.
    nonisolated func submit(_ operation: ControlCommand.Operation, requester: String) async -> Result<LogIndex, ConsensusError> {
        if let why = ControlState.validate(operation) { return .failure(.refused(why)) }
        return await replicate(ControlCommand(operation, requester: requester, via: id).encoded)
    }

    typealias Caller = CheckedContinuation<Result<LogIndex, ConsensusError>, Never>

    /// Not isolated, on purpose: the caller's continuation is made on the caller's own
    /// executor and handed to this actor's thread, and the actor resumes it straight back
    /// there. Awaiting it inside the actor instead would bounce the reply between threads
    /// (resume on the caller's executor, back to the actor to return, then out again): two
    /// wake-ups more per write, on the path a client waits on.
    nonisolated func replicate(_ command: [UInt8]) async -> Result<LogIndex, ConsensusError> {
        await withCheckedContinuation { (c: Caller) in
            onOwnThread { $0.begin(command, c) }
        }
    }

    /// Proposes or forwards at once when a leader is known (and, on the leader, the
    /// publisher keeps up); else waits for that, up to `leaderWait` (and `commandTimeout`).
    func begin(_ command: [UInt8], _ caller: Caller) {
        guard !stopped else { caller.resume(returning: .failure(.refused("this agent is stopping"))); return }
        whenLeaderKnown { [self] leader in
            guard let leader else { return caller.resume(returning: .failure(noLeaderError)) }
            guard leader == id else { return forward(command, to: leader, caller) }
            whenAdmitted { [self] admitted in
                guard admitted else { return caller.resume(returning: .failure(.timedOut(Self.commandTimeout))) }
                propose(command, caller)
            }
        }
    }

    /// Calls `then` with the leader to send commands to: at once when one is known, else
    /// when one becomes known (`noteStatus`), or with nil after `leaderWait`.
    func whenLeaderKnown(_ then: @escaping (NodeID?) -> Void) {
        if let leader = leaderForCommands { return then(leader) }
        let id = leaderWaiters.add { known in then(known ? self.leaderForCommands : nil) }
        onOwnThread(after: Self.leaderWait) { $0.leaderWaiters.expire(id) }
    }

    /// Commands waiting for a leader to be known.
    var waitingForLeader: Int { leaderWaiters.count }

    func forward(_ command: [UInt8], to leader: NodeID, _ caller: Caller) {
        let requestID = nextRequestID
        nextRequestID += 1
        let body = ForwardedCommand(requestID: requestID, command: command).encoded
        forwarded[requestID] = (caller, leader, command.isEmpty)
        if !transport.post(kind: .commandForward, body: body, to: leader, channel: .fitting(body.count)) {
            Task { await transport.send(kind: .commandForward, body: body, to: leader, channel: .fitting(body.count)) }
        }
        onOwnThread(after: Self.commandTimeout) { $0.expireForward(requestID) }
    }

    func propose(_ command: [UInt8], _ caller: Caller) {
        if command.isEmpty { return requestRead(.local(caller)) }
        guard waiters.count + batch.count < Self.maxPendingCommands else {
            return caller.resume(returning: .failure(.refused("too many commands waiting; retry")))
        }
        guard node.role == .leader else { return caller.resume(returning: .failure(noLeaderError)) }
        enqueue(command, .local(caller))
    }

    var noLeaderError: ConsensusError {
        let voters = node.voters.isEmpty ? advertisedVoters : node.voters
        let reachable = voters.filter { $0 == id || members[$0]?.alive == true }.count
        return .noLeader(reachable: reachable, voters: voters.count)
    }

    func expireForward(_ requestID: UInt64) {
        forwarded.removeValue(forKey: requestID)?.caller.resume(returning: .failure(.timedOut(Self.commandTimeout)))
    }

    /// Group commit: commands that arrive while the actor is busy (most often in an
    /// fsync) wait in `batch` and are proposed together by one `flushBatch`, so one log
    /// write and one AppendEntries per follower carry them all.
    func enqueue(_ command: [UInt8], _ waiter: Waiter) {
        batch.append((command, waiter))
        guard !flushScheduled else { return }
        flushScheduled = true
        // Queued on this actor's own loop, behind the frames and commands already posted
        // (they join the batch). Not `Task {}`: a new task starts on the global pool (or
        // the caller's task executor) and only then switches to this actor, which woke
        // two threads per write on the leader's path.
        onOwnThread { $0.flushBatch() }
    }

    func flushBatch() {
        flushScheduled = false
        let items = batch
        batch = []
        guard !items.isEmpty else { return }
        switch node.propose(batch: items.map(\.command), now: now()) {
        case let .failure(e):
            for item in items { fail(item.waiter, e) }
        case let .success((indexes, term, ready)):
            for (index, item) in zip(indexes, items) {
                switch item.waiter {
                case let .local(c): waiters[index, default: []].append((term, c))
                case let .remote(member, requestID): remoteWaiters[index, default: []].append((member, requestID, term))
                }
            }
            for item in items.dropFirst(indexes.count) {
                fail(item.waiter, .tooManyUncommitted(limit: node.settings.maxUncommittedEntries))
            }
            if !indexes.isEmpty {
                // A timer on this actor's own loop: no task, and no wake-up of the runtime's
                // timer thread, per write.
                onOwnThread(after: Self.commandTimeout) { service in
                    for index in indexes { service.expireLocal(index, term) }
                }
            }
            execute(ready)
            rearmIfMoved()
        }
    }

    func fail(_ waiter: Waiter, _ e: RaftError) {
        switch waiter {
        case let .local(c): c.resume(returning: .failure(e == .notLeader(leader: nil) ? noLeaderError : .refused(e.description)))
        case let .remote(member, requestID): reply(CommandReply(requestID: requestID, index: 0, error: e.description), to: member)
        }
    }

    func expireLocal(_ index: LogIndex, _ term: Term) {
        guard var list = waiters[index], let i = list.firstIndex(where: { $0.0 == term }) else { return }
        list.remove(at: i).1.resume(returning: .failure(.timedOut(Self.commandTimeout)))
        waiters[index] = list.isEmpty ? nil : list
    }
}
