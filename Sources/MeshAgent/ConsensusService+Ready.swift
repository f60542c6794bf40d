import Consensus
import EventLog
import NIOCore
import NIOPosix
import Synchronization
import Logging
import MeshCore
import MeshWire

/// Executing the core's output (`RaftReady`): what is saved, sent and applied, in which order.
extension ConsensusService {
    /// Persist (fsync), then send, then apply: the order Raft needs. One exception: a
    /// leader's AppendEntries go out before its own log write (thesis §10.2.1), so the
    /// followers' fsyncs run in parallel with the leader's. That is safe because the
    /// leader counts its own log towards commit only when it handles an answer, and this
    /// actor handles nothing before `save` below has returned (it blocks the actor).
    func execute(_ ready: RaftReady) {
        guard !ready.isEmpty, !stopped else { return }
        var after = ready.messages
        let termDurable = ready.hardState.map { $0.term == savedTerm && $0.votedFor == savedVote } ?? true
        if node.role == .leader, termDurable {
            let early = ready.messages.filter { if case .appendEntries = $0.message { true } else { false } }
            after = ready.messages.filter { if case .appendEntries = $0.message { false } else { true } }
            send(early)
        }
        // A ready that only moves the commit index needs nothing durable before it is acted
        // on (Raft keeps the commit index in memory): it is stored, if due, after the
        // answers, off the reply's path (`storeCommit`).
        let commitOnly = termDurable && ready.entries.isEmpty && ready.truncateFrom == nil && ready.snapshot == nil
        if !commitOnly {
            var toSave = ready
            // A hard state that moved only its commit index waits for `commitStoreInterval`.
            if termDurable, !commitStoreDue { toSave.hardState = nil }
            do { try timedSave(toSave) } catch {
                logger.critical("raft storage failed; not sending anything that depends on it", metadata: ["error": "\(error)"])
                return
            }
            if let h = toSave.hardState { noteCommitStored(h.commit) }
        }
        if let h = ready.hardState { savedTerm = h.term; savedVote = h.votedFor }
        send(after)
        if let s = ready.snapshot {
            // Installed from the leader: the state machine starts again from it (unless the
            // event log already brought the replica further).
            do { _ = replica.install(try ControlState(snapshot: s.data), at: s.index, now: now()) } catch {
                logger.critical("the leader's snapshot does not decode", metadata: ["index": "\(s.index)", "error": "\(error)"])
            }
        }
        for entry in ready.committed {
            var command: ControlCommand?
            if entry.kind == .command {
                command = entry.command.isEmpty ? nil : try? ControlCommand.decode(entry.command)
            }
            // An entry the event log applied first is a duplicate here: only a previous
            // leader's entries can be, and nobody waits on those.
            let result = replica.offer([CommittedEntry(entry)], now: now()).first { $0.0.index == entry.index }?.1 ?? .ok
            for (term, c) in waiters.removeValue(forKey: entry.index) ?? [] {
                c.resume(returning: term != entry.term ? .failure(.refused("leadership changed before the command committed; retry"))
                    : result == .ok ? .success(entry.index) : .failure(.refused(Self.text(result))))
            }
            for (member, requestID, term) in remoteWaiters.removeValue(forKey: entry.index) ?? [] {
                let error = term != entry.term ? "leadership changed before the command committed; retry" : Self.text(result)
                reply(CommandReply(requestID: requestID, index: entry.index.value, error: error), to: member)
            }
            if onApplied != nil { unpublished += 1; toPublish.append(Applied(entry: entry, command: command, result: result)) }
        }
        replica.note(commit: node.commitIndex, now: now())
        for r in ready.reads { answerRead(r) }
        wakeApplyWaiters()
        if commitOnly { storeCommit() }
        if !toPublish.isEmpty { publishSignal.yield() }
        compactIfDue()
        failForwardsOnLeaderChange()
    }

    /// Writes the commit index when it moved and the stored one is `commitStoreInterval`
    /// old, or now when `force` (at stop). `RaftStorage` does not fsync a save that only
    /// moves it.
    func storeCommit(force: Bool = false) {
        guard node.commitIndex > storedCommit, force || commitStoreDue else { return }
        do { try timedSave(RaftReady(hardState: node.hard)) } catch {
            logger.error("raft commit index not stored; it is kept in memory", metadata: ["error": "\(error)"])
            return
        }
        noteCommitStored(node.commitIndex)
    }

    func send(_ messages: [RaftReady.Outgoing]) {
        for m in messages { post(Outbound(kind: m.message.kind, body: m.message.encoded, to: m.to)) }
    }

    /// Straight to the transport when it takes messages without waiting (the agent's
    /// runtime: one hop to the socket's thread), else through the sending task.
    func post(_ m: Outbound) {
        guard !transport.post(kind: m.kind, body: m.body, to: m.to, channel: .fitting(m.body.count)) else { return }
        outbox.yield(m)
    }

    /// Commands forwarded to a leader that is no longer the leader will not be answered
    /// by it: their callers hear `leaderChanged` now (and may retry) instead of waiting
    /// out `commandTimeout`.
    func failForwardsOnLeaderChange() {
        guard node.leader != knownLeader else { return }
        knownLeader = node.leader
        guard let current = node.leader else { return }
        for (requestID, f) in forwarded where f.leader != current {
            forwarded.removeValue(forKey: requestID)
            f.caller.resume(returning: .failure(.leaderChanged))
        }
        for read in forwardedReads.takeAll(notSentTo: current) { read.caller.resume(returning: .failure(.leaderChanged)) }
    }

    /// Compacts the log into a snapshot of the applied state once the core says so.
    func compactIfDue() {
        // The snapshot must hold the state at Raft's applied index: not while the event log
        // has brought the replica further (Raft's apply catches up at once).
        guard node.shouldCompact, replica.appliedIndex == node.applied,
              let s = node.compact(through: node.applied, data: state.snapshot) else { return }
        do { try storage.saveSnapshot(s) } catch {
            logger.error("raft snapshot not saved; the log keeps its entries", metadata: ["error": "\(error)"])
        }
    }
}
