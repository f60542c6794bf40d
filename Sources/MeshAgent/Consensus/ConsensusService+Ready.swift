import Consensus
import EventLog
import NIOCore
import NIOPosix
import Synchronization
import Logging
import MeshCore
import MeshWire
import Storage

/// Executing the core's output (`RaftReady`): what is saved, sent and applied, in which order.
extension ConsensusService {
    /// Saves, sends and applies in the order `RaftShell` plans. The save blocks this actor,
    /// so nothing else is handled before it returns: what makes sending a leader's
    /// AppendEntries before its own log write safe.
    func execute(_ ready: RaftReady) {
        guard !ready.isEmpty, !stopped else { return }
        publishQuorumAnswer()
        let plan = shell.plan(ready, isLeader: node.role == .leader, now: now())
        send(plan.sendFirst)
        if let save = plan.save {
            do { try timedSave(save) } catch {
                logger.critical("raft storage failed; not sending anything that depends on it", metadata: ["error": "\(error)"])
                return
            }
        }
        shell.saved(plan, of: ready, now: now())
        send(plan.sendAfter)
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
        if plan.storeCommitAfterwards { storeCommit() }
        if !toPublish.isEmpty { publishSignal.yield() }
        compactIfDue()
        failForwardsOnLeaderChange()
    }

    /// Writes the commit index when `RaftShell` says it is due, or now when `force` (at
    /// stop). `RaftStorage` does not fsync a save that only moves it.
    func storeCommit(force: Bool = false) {
        let hard = node.hard
        guard let save = shell.commitToStore(hard, now: now(), force: force) else { return }
        do { try timedSave(save) } catch {
            logger.error("raft commit index not stored; it is kept in memory", metadata: ["error": "\(error)"])
            return
        }
        shell.committedStored(hard, now: now())
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
