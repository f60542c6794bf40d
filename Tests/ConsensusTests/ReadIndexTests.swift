@testable import Consensus
import MeshCore
import Testing

/// ReadIndex (thesis §6.4): a leader answers a read index only after a quorum echoed a
/// heartbeat round sent after the read arrived, and only once an entry of its term committed.
struct ReadIndexTests {
    let t = MeshTime(nanoseconds: 1_000_000_000)

    @Test func aReadIsConfirmedByAQuorumEchoingARoundSentAfterIt() {
        var (l, f) = AbstainingTests.leaderWithFollower(entries: 2)
        #expect(l.commitIndex == LogIndex(3))
        guard case let .success(r) = l.readIndex([7, 8], now: t) else { Issue.record("refused"); return }
        // Not yet: only the leader itself has seen the round.
        #expect(r.reads.isEmpty)
        let beats = r.messages.filter { $0.to == rid(2) }
        #expect(beats.count == 1)
        guard case let .appendEntries(ae) = beats[0].message else { Issue.record("no heartbeat"); return }
        #expect(ae.readRound > 0)
        // An answer to an older round (sent before the read) confirms nothing.
        let stale = l.step(.appendResponse(AppendResponse(term: l.term, success: true, matchIndex: LogIndex(3), hintIndex: .zero,
                                                          readRound: ae.readRound - 1)), from: rid(2), now: t)
        #expect(stale.reads.isEmpty)
        // The follower echoes the round: two of three voters confirm, both reads answer at the commit index.
        let answer = f.step(beats[0].message, from: rid(1), now: t)
        guard case let .appendResponse(ar) = answer.messages.first?.message else { Issue.record("no answer"); return }
        #expect(ar.readRound == ae.readRound)
        let done = l.step(answer.messages[0].message, from: rid(2), now: t)
        #expect(done.reads == [ReadState(id: 7, index: LogIndex(3)), ReadState(id: 8, index: LogIndex(3))])
        // Answered once only.
        let again = l.step(answer.messages[0].message, from: rid(2), now: t)
        #expect(again.reads.isEmpty)
    }

    @Test func aFollowerRefusesAndAStepDownFailsPendingReads() {
        var (l, f) = AbstainingTests.leaderWithFollower(entries: 0)
        guard case .failure(.notLeader(leader: rid(1))) = f.readIndex([1], now: t) else { Issue.record("a follower answered"); return }
        guard case .success = l.readIndex([5], now: t) else { Issue.record("refused"); return }
        // A newer term deposes the leader before any echo: the read fails, it is not answered stale.
        let r = l.step(.appendResponse(AppendResponse(term: l.term.next, success: false, matchIndex: .zero, hintIndex: .zero)),
                       from: rid(3), now: t)
        #expect(l.role == .follower)
        #expect(r.reads == [ReadState(id: 5, index: nil)])
    }

    @Test func aNewLeaderWaitsForItsNoOpToCommitBeforeAnswering() {
        let voters = [rid(1), rid(2), rid(3)]
        var l = RaftNode(id: rid(1), voters: voters, settings: .lan, random: SeededRandom(seed: 1), now: .zero)
        _ = l.tick(now: t)
        _ = l.step(.voteResponse(VoteResponse(preVote: true, term: Term(1), granted: true)), from: rid(2), now: t)
        _ = l.step(.voteResponse(VoteResponse(preVote: false, term: Term(1), granted: true)), from: rid(2), now: t)
        #expect(l.role == .leader && l.commitIndex == .zero)
        guard case let .success(r) = l.readIndex([1], now: t) else { Issue.record("refused"); return }
        guard case let .appendEntries(ae) = r.messages.first(where: { $0.to == rid(2) })?.message else { Issue.record("no heartbeat"); return }
        // Echoed, but the no-op of this term is not committed: no answer yet.
        let echoed = l.step(.appendResponse(AppendResponse(term: l.term, success: true, matchIndex: .zero, hintIndex: .zero,
                                                           readRound: ae.readRound)), from: rid(2), now: t)
        #expect(echoed.reads.isEmpty)
        // The no-op commits: the read answers at it.
        let committed = l.step(.appendResponse(AppendResponse(term: l.term, success: true, matchIndex: LogIndex(1), hintIndex: .zero,
                                                              readRound: ae.readRound)), from: rid(2), now: t)
        #expect(committed.reads == [ReadState(id: 1, index: LogIndex(1))])
    }

    @Test func aSoleVoterAnswersAtOnce() {
        var l = RaftNode(id: rid(1), voters: [rid(1)], settings: .lan, random: SeededRandom(seed: 1), now: .zero)
        _ = l.tick(now: t)
        #expect(l.role == .leader)
        guard case let .success(r) = l.readIndex([3], now: t) else { Issue.record("refused"); return }
        #expect(r.reads == [ReadState(id: 3, index: l.commitIndex)] && r.messages.isEmpty)
    }

    @Test func theReadRoundSurvivesTheCodec() throws {
        let ae = RaftMessage.appendEntries(AppendEntries(term: Term(2), prevLogIndex: LogIndex(1), prevLogTerm: Term(1), entries: [],
                                                         leaderCommit: LogIndex(1), readRound: 42))
        #expect(try RaftMessage.decode(kind: ae.kind, body: ae.encoded) == ae)
        let ar = RaftMessage.appendResponse(AppendResponse(term: Term(2), success: true, matchIndex: LogIndex(1), hintIndex: .zero, readRound: 42))
        #expect(try RaftMessage.decode(kind: ar.kind, body: ar.encoded) == ar)
    }
}
