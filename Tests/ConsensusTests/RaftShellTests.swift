@testable import Consensus
import MeshCore
import Testing

/// The shell policy the agent, the simulator and the test cluster run alike.
struct RaftShellTests {
    let peer = rid(2)
    func append(_ term: UInt64) -> RaftReady.Outgoing {
        .init(to: peer, message: .appendEntries(AppendEntries(term: Term(term), prevLogIndex: .zero, prevLogTerm: .zero,
                                                             entries: [], leaderCommit: .zero)))
    }
    func vote(_ term: UInt64) -> RaftReady.Outgoing {
        .init(to: peer, message: .voteResponse(VoteResponse(preVote: false, term: Term(term), granted: true)))
    }
    let entry = LogEntry(term: Term(3), index: LogIndex(5), command: [1])

    @Test func aLeaderSendsItsAppendEntriesBeforeItsOwnWriteOnlyWhenItsTermIsDurable() {
        let shell = RaftShell(loaded: HardState(term: Term(3), votedFor: rid(1), commit: LogIndex(4)), now: .zero)
        var ready = RaftReady(entries: [entry], messages: [append(3), vote(3)])
        let durable = shell.plan(ready, isLeader: true, now: .zero)
        #expect(durable.sendFirst == [append(3)] && durable.sendAfter == [vote(3)])
        #expect(durable.save?.entries == [entry] && durable.save?.messages.isEmpty == true)

        ready.hardState = HardState(term: Term(4), votedFor: rid(1), commit: LogIndex(4))
        let newTerm = shell.plan(ready, isLeader: true, now: .zero)
        #expect(newTerm.sendFirst.isEmpty && newTerm.sendAfter == [append(3), vote(3)])
        #expect(newTerm.save?.hardState?.term == Term(4))

        let follower = shell.plan(RaftReady(entries: [entry], messages: [append(3)]), isLeader: false, now: .zero)
        #expect(follower.sendFirst.isEmpty && follower.sendAfter == [append(3)])
    }

    @Test func aMovedCommitIndexIsStoredOnlyOnceTheStoredOneIsAnIntervalOld() {
        var shell = RaftShell(loaded: HardState(term: Term(3), votedFor: nil, commit: LogIndex(4)), now: .zero)
        let moved = HardState(term: Term(3), votedFor: nil, commit: LogIndex(5))
        let commitOnly = RaftReady(hardState: moved, committed: [entry])
        let early = MeshTime.zero + shell.commitStoreInterval / 2
        let plan = shell.plan(commitOnly, isLeader: true, now: early)
        #expect(plan.save == nil && plan.storeCommitAfterwards)
        #expect(shell.commitToStore(moved, now: early) == nil)
        // With entries to write, the hard state is left out until it is due.
        let withEntries = shell.plan(RaftReady(hardState: moved, entries: [entry]), isLeader: false, now: early)
        #expect(withEntries.save?.hardState == nil && withEntries.save?.entries == [entry])

        let due = MeshTime.zero + shell.commitStoreInterval
        #expect(shell.commitToStore(moved, now: due) == RaftReady(hardState: moved))
        shell.committedStored(moved, now: due)
        #expect(shell.storedCommit == LogIndex(5))
        #expect(shell.commitToStore(moved, now: due + .seconds(5)) == nil)    // nothing moved since
        #expect(shell.commitToStore(HardState(term: Term(3), votedFor: nil, commit: LogIndex(6)), now: due, force: true) != nil)
    }

    @Test func aSavedTermAndVoteAreWhatTheNextPlanTrusts() {
        var shell = RaftShell(loaded: HardState(), now: .zero)
        let elected = RaftReady(hardState: HardState(term: Term(2), votedFor: rid(1), commit: .zero), messages: [append(2)])
        let first = shell.plan(elected, isLeader: true, now: .zero)
        #expect(first.sendFirst.isEmpty)
        shell.saved(first, of: elected, now: .zero)
        #expect(shell.savedTerm == Term(2) && shell.savedVote == rid(1))
        let next = shell.plan(RaftReady(entries: [entry], messages: [append(2)]), isLeader: true, now: .zero)
        #expect(next.sendFirst == [append(2)])
    }
}
