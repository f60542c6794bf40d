@testable import Consensus
import MeshCore
import Testing

/// A node whose storage was found damaged restarts empty and abstaining: message by
/// message, it neither votes nor counts, and refills without a replication storm.
struct AbstainingTests {
    /// A leader (node 1) of voters 1, 2, 3 that has replicated `entries` to node 2.
    static func leaderWithFollower(entries: Int) -> (RaftNode, RaftNode) {
        let voters = [rid(1), rid(2), rid(3)]
        var l = RaftNode(id: rid(1), voters: voters, settings: .lan, random: SeededRandom(seed: 1), now: .zero)
        var f = RaftNode(id: rid(2), voters: voters, settings: .lan, random: SeededRandom(seed: 2), now: .zero)
        let t = MeshTime(nanoseconds: 1_000_000_000)
        _ = l.tick(now: t)                                                     // pre-vote
        _ = l.step(.voteResponse(VoteResponse(preVote: true, term: Term(1), granted: true)), from: rid(2), now: t)
        let won = l.step(.voteResponse(VoteResponse(preVote: false, term: Term(1), granted: true)), from: rid(2), now: t)
        #expect(l.role == .leader)
        var toFollower = won.messages.filter { $0.to == rid(2) }
        for k in 0 ..< entries {
            guard case let .success((_, _, r)) = l.propose([UInt8(k)], now: t) else { Issue.record("refused"); break }
            toFollower += r.messages.filter { $0.to == rid(2) }
        }
        for m in toFollower {
            let r = f.step(m.message, from: rid(1), now: t)
            for reply in r.messages { _ = l.step(reply.message, from: rid(2), now: t) }
        }
        return (l, f)
    }

    /// The simulator's raft-storage-faults seed 1 found this: the leader kept node 2's old
    /// match index as a floor, so every reject of the emptied node was answered with the same
    /// unusable AppendEntries, and every heartbeat started one more endless exchange.
    @Test func aLeaderRestartsReplicationFromScratchForAnAbstainingFollower() {
        var (l, _) = Self.leaderWithFollower(entries: 4)
        #expect(l.matchIndex[rid(2)] == LogIndex(5))           // the no-op and 4 commands
        let t = MeshTime(nanoseconds: 2_000_000_000)
        var empty = RaftNode(id: rid(2), voters: [rid(1), rid(2), rid(3)], settings: .lan, random: SeededRandom(seed: 3),
                             now: t, abstaining: true)
        // A heartbeat reaches the emptied follower: it cannot match and says so, abstaining.
        let hb = AppendEntries(term: l.term, prevLogIndex: LogIndex(5), prevLogTerm: l.term, entries: [], leaderCommit: l.commitIndex)
        let rejected = empty.step(.appendEntries(hb), from: rid(1), now: t)
        guard case let .appendResponse(reply) = rejected.messages.first?.message else { Issue.record("no reply"); return }
        #expect(!reply.success && reply.abstaining && reply.hintIndex == LogIndex(1))
        // The leader forgets what node 2 acknowledged and resends the whole log from index 1.
        let resend = l.step(.appendResponse(reply), from: rid(2), now: t)
        #expect(l.matchIndex[rid(2)] == .zero)
        #expect(l.abstainingPeers == [rid(2)])
        guard case let .appendEntries(a) = resend.messages.first?.message else { Issue.record("no resend"); return }
        #expect(a.prevLogIndex == .zero && a.entries.count == 5)
        // The refilled follower acknowledges, still abstaining: its replica does not count.
        let acked = empty.step(.appendEntries(a), from: rid(1), now: t)
        #expect(empty.lastIndex == LogIndex(5) && empty.abstaining)
        guard case let .appendResponse(ack) = acked.messages.first?.message else { Issue.record("no ack"); return }
        #expect(ack.success && ack.abstaining)
        let commitBefore = l.commitIndex
        guard case let .success((index, _, _)) = l.propose([9], now: t) else { Issue.record("refused"); return }
        _ = l.step(.appendResponse(AppendResponse(term: l.term, success: true, matchIndex: index, hintIndex: .zero, abstaining: true)),
                   from: rid(2), now: t)
        #expect(l.commitIndex == commitBefore)                 // node 2's copy is not counted
    }

    @Test func anAbstainingNodeGrantsNoVoteAndNeverCampaigns() {
        let voters = [rid(1), rid(2), rid(3)]
        var n = RaftNode(id: rid(2), voters: voters, settings: .lan, random: SeededRandom(seed: 1), now: .zero, abstaining: true)
        let t = MeshTime(nanoseconds: 10_000_000_000)
        let ticked = n.tick(now: t)
        #expect(n.role == .follower && ticked.messages.isEmpty)
        let pre = n.step(.requestVote(RequestVote(preVote: true, term: Term(1), lastLogIndex: .zero, lastLogTerm: .zero)), from: rid(1), now: t)
        let real = n.step(.requestVote(RequestVote(preVote: false, term: Term(1), lastLogIndex: .zero, lastLogTerm: .zero)), from: rid(1), now: t)
        for r in [pre, real] {
            guard case let .voteResponse(v) = r.messages.first?.message else { Issue.record("no answer"); return }
            #expect(!v.granted)
        }
        #expect(n.hard.votedFor == nil)
    }

    @Test func itVotesAgainOnlyAfterACommittedConfigurationRemovedItAndRecordsAVoteForThatLeader() {
        let voters = [rid(1), rid(2), rid(3)]
        var n = RaftNode(id: rid(2), voters: voters, settings: .lan, random: SeededRandom(seed: 1), now: .zero, abstaining: true)
        let t = MeshTime(nanoseconds: 1_000_000_000)
        let removal = LogEntry(term: Term(4), index: LogIndex(1), kind: .configuration,
                               command: RaftConfiguration(voters: [rid(1), rid(3)], learners: [rid(2)]).encoded)
        // In the log but not committed: still abstaining.
        _ = n.step(.appendEntries(AppendEntries(term: Term(4), prevLogIndex: .zero, prevLogTerm: .zero, entries: [removal],
                                                leaderCommit: .zero)), from: rid(1), now: t)
        #expect(n.abstaining && !n.isVoter)
        // Committed: an ordinary learner, with this term's vote spent on the leader.
        let r = n.step(.appendEntries(AppendEntries(term: Term(4), prevLogIndex: LogIndex(1), prevLogTerm: Term(4), entries: [],
                                                    leaderCommit: LogIndex(1))), from: rid(1), now: t)
        #expect(!n.abstaining)
        #expect(r.hardState?.votedFor == rid(1) && r.hardState?.term == Term(4))
        guard case let .appendResponse(ack) = r.messages.first?.message else { Issue.record("no ack"); return }
        #expect(ack.success && !ack.abstaining)
        // A candidate of the same term is refused: the vote is spent.
        let v = n.step(.requestVote(RequestVote(preVote: false, term: Term(4), lastLogIndex: LogIndex(9), lastLogTerm: Term(4))),
                       from: rid(3), now: t + .seconds(5))
        guard case let .voteResponse(answer) = v.messages.first?.message else { Issue.record("no answer"); return }
        #expect(!answer.granted)
    }

    @Test func theVoterPolicyRemovesAnAbstainingVoterAndKeepsItAsALearner() {
        let c = RaftConfiguration(voters: [rid(1), rid(2), rid(3)])
        let alive = VoterPolicy.Member(alive: true)
        let members = [rid(1): alive, rid(2): alive, rid(3): alive]
        let next = VoterPolicy().nextChange(leader: rid(1), configuration: c, members: members, matchIndex: [:],
                                            lastIndex: LogIndex(10), now: .zero, refilling: [rid(2)])
        #expect(next == RaftConfiguration(voters: [rid(1), rid(3)], learners: [rid(2)]))
        // As a refilling learner it is not promoted, however caught up.
        let later = VoterPolicy().nextChange(leader: rid(1), configuration: next!, members: members,
                                             matchIndex: [rid(2): LogIndex(10)], lastIndex: LogIndex(10), now: .zero,
                                             refilling: [rid(2)])
        #expect(later == nil)
    }
}
