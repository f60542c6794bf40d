@testable import Consensus
import MeshCore
import Testing

/// With check-quorum a leader is in its own lease: it answers neither a pre-vote nor a
/// disruptive vote, and gives up leadership only by its own quorum check.
struct LeaderLeaseTests {
    @Test func aLeaderRefusesAPreVoteFromAFollowerThatMissedHeartbeats() {
        var (l, _) = AbstainingTests.leaderWithFollower(entries: 1)
        let t = MeshTime(nanoseconds: 1_100_000_000)
        // Node 3 lost a few heartbeats (message loss) and asks for a pre-vote with a log as
        // long as the leader's. Granting it would hand node 3 a pre-vote quorum (itself and
        // the leader) and its real campaign would depose a healthy leader.
        let ask = RequestVote(preVote: true, term: l.term.next, lastLogIndex: l.lastIndex, lastLogTerm: l.lastTerm)
        let r = l.step(.requestVote(ask), from: rid(3), now: t)
        guard case let .voteResponse(v) = r.messages.first?.message else { Issue.record("no answer"); return }
        #expect(!v.granted && v.preVote)
        // A real vote of a higher term inside the lease is ignored: the leader stays.
        let term = l.term
        let ignored = l.step(.requestVote(RequestVote(preVote: false, term: term.next, lastLogIndex: l.lastIndex, lastLogTerm: l.lastTerm)),
                             from: rid(3), now: t)
        #expect(ignored.messages.isEmpty && l.role == .leader && l.term == term)
    }
}
