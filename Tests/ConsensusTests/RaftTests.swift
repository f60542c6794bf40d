@testable import Consensus
import MeshCore
import Testing

struct RaftTests {
    @Test func aSingleVoterLeadsItselfAndCommitsAtOnce() throws {
        var n = RaftNode(id: rid(1), voters: [rid(1)], settings: .lan, random: SeededRandom(seed: 1), now: .zero)
        let r = n.tick(now: n.nextWakeup)
        #expect(n.role == .leader && n.term == Term(1))
        #expect(r.hardState?.votedFor == rid(1))
        guard case let .success((index, _, ready)) = n.propose([7], now: n.nextWakeup) else { Issue.record("refused"); return }
        #expect(index == LogIndex(2))                     // after the leader's no-op
        #expect(ready.entries.map(\.command) == [[7]])
        #expect(ready.committed.map(\.command) == [[7]])
    }

    @Test func threeNodesElectOneLeaderAndReplicate() {
        var c = RaftCluster(size: 3, seed: 1)
        c.advance(by: .seconds(2))
        let leader = try! #require(c.leader)
        for k in 0 ..< 10 { let ok = c.propose([UInt8(k)]); #expect(ok) }
        c.advance(by: .milliseconds(200))
        for i in c.ids { #expect(c.applied[i]!.filter { !$0.command.isEmpty }.count == 10, "node \(i)") }
        #expect(c.acknowledged.count == 10)
        #expect(c.violations.isEmpty)
        #expect(c.nodes[leader]!.role == .leader)
    }

    @Test func aNewLeaderIsElectedWhenTheLeaderCrashesAndKeepsCommittedEntries() {
        var c = RaftCluster(size: 3, seed: 2)
        c.advance(by: .seconds(2))
        for k in 0 ..< 5 { _ = c.propose([UInt8(k)]) }
        c.advance(by: .milliseconds(100))
        let old = c.leader!
        c.crash(old)
        let crashedAt = c.now
        var electedAt: MeshTime?
        while c.now - crashedAt < .seconds(3) {
            c.advance(by: .milliseconds(10))
            if let l = c.leader, l != old { electedAt = c.now; break }
        }
        let failover = try! #require(electedAt) - crashedAt
        #expect(failover < RaftSettings.lan.electionTimeout * 4)
        let proposed = c.propose([99])
        #expect(proposed)
        c.advance(by: .milliseconds(200))
        c.restart(old)
        c.advance(by: .seconds(1))
        for i in c.ids { #expect(c.applied[i]!.map(\.command).filter { !$0.isEmpty } == [[0], [1], [2], [3], [4], [99]], "node \(i)") }
        #expect(c.violations.isEmpty)
    }

    @Test func anIsolatedLeaderStepsDownAndTheMajorityMovesOn() {
        var c = RaftCluster(size: 5, seed: 3)
        c.advance(by: .seconds(2))
        let old = c.leader!
        c.groups[old] = 1
        c.advance(by: RaftSettings.lan.electionTimeout * 2 + .milliseconds(50))
        #expect(c.nodes[old]!.role != .leader)            // check-quorum
        #expect(c.nodes[old]!.lastStepDown == .quorumContactLost)
        let newLeader = try! #require(c.leader)
        #expect(newLeader != old)
        let proposed = c.propose([1])
        #expect(proposed)
        c.advance(by: .milliseconds(100))
        #expect(c.acknowledged.count == 1)
        #expect(c.violations.isEmpty)
    }

    @Test func aReturningPartitionedNodeDoesNotDisruptTheLeader() {
        var c = RaftCluster(size: 3, seed: 4)
        c.advance(by: .seconds(2))
        let leader = c.leader!
        let term = c.nodes[leader]!.term
        let loner = c.ids.first { $0 != leader }!
        c.groups[loner] = 1
        c.advance(by: .seconds(5))                        // it keeps pre-voting, never raising its term
        #expect(c.nodes[loner]!.term == term)
        c.groups[loner] = 0
        c.advance(by: .seconds(1))
        #expect(c.leader == leader)
        #expect(c.nodes[leader]!.term == term)
    }

    @Test func aLeaderThatSeesANewerTermStepsDownAndSaysWhy() {
        var c = RaftCluster(size: 3, seed: 6)
        c.advance(by: .seconds(2))
        let l = c.leader!
        #expect(c.nodes[l]!.lastStepDown == nil)
        let other = c.ids.first { $0 != l }!
        let newer = c.nodes[l]!.term.next
        _ = c.nodes[l]!.step(.appendEntries(AppendEntries(term: newer, prevLogIndex: .zero, prevLogTerm: .zero, entries: [], leaderCommit: .zero)),
                             from: rid(other), now: c.now)
        #expect(c.nodes[l]!.role == .follower)
        #expect(c.nodes[l]!.lastStepDown == .newerTerm(newer))
    }

    @Test func aStaleLeadersAppendIsRefusedWithTheNewTerm() {
        var n = RaftNode(id: rid(2), voters: [rid(1), rid(2), rid(3)], settings: .lan, random: SeededRandom(seed: 5), now: .zero,
                         hardState: HardState(term: Term(5)))
        let r = n.step(.appendEntries(AppendEntries(term: Term(4), prevLogIndex: .zero, prevLogTerm: .zero, entries: [], leaderCommit: .zero)),
                       from: rid(1), now: .zero)
        #expect(r.messages == [.init(to: rid(1), message: .appendResponse(AppendResponse(term: Term(5), success: false, matchIndex: .zero, hintIndex: .zero)))])
    }

    @Test func aFollowerWithADivergentLogIsRepaired() {
        // Raft figure 7, follower (f): extra uncommitted entries of terms 2 and 3.
        let e = { (t: UInt64, i: UInt64) in LogEntry(term: Term(t), index: LogIndex(i), command: [UInt8(i)]) }
        var f = RaftNode(id: rid(2), voters: [rid(1), rid(2), rid(3)], settings: .lan, random: SeededRandom(seed: 6), now: .zero,
                         hardState: HardState(term: Term(3)), log: [e(1, 1), e(1, 2), e(1, 3), e(2, 4), e(2, 5), e(3, 6), e(3, 7)])
        // The leader of term 6 has 1,1,1,4,4,5,5,6,6,6 and probes after its last entry.
        let leaderLog = [e(1, 1), e(1, 2), e(1, 3), e(4, 4), e(4, 5), e(5, 6), e(5, 7), e(6, 8), e(6, 9), e(6, 10)]
        var r = f.step(.appendEntries(AppendEntries(term: Term(6), prevLogIndex: LogIndex(10), prevLogTerm: Term(6), entries: [], leaderCommit: LogIndex(3))),
                       from: rid(1), now: .zero)
        guard case let .appendResponse(resp1) = r.messages[0].message else { Issue.record("no response"); return }
        #expect(!resp1.success && resp1.hintIndex == LogIndex(8))
        r = f.step(.appendEntries(AppendEntries(term: Term(6), prevLogIndex: LogIndex(7), prevLogTerm: Term(5), entries: Array(leaderLog[7...]), leaderCommit: LogIndex(3))),
                   from: rid(1), now: .zero)
        guard case let .appendResponse(resp2) = r.messages[0].message else { Issue.record("no response"); return }
        // Its entry 7 is of term 3, not 5: the hint skips the whole term-3 run.
        #expect(!resp2.success && resp2.hintIndex == LogIndex(6))
        r = f.step(.appendEntries(AppendEntries(term: Term(6), prevLogIndex: LogIndex(3), prevLogTerm: Term(1), entries: Array(leaderLog[3...]), leaderCommit: LogIndex(10))),
                   from: rid(1), now: .zero)
        #expect(r.truncateFrom == LogIndex(4))
        #expect(f.log == leaderLog)
        #expect(f.commitIndex == LogIndex(10))
        #expect(r.committed.count == 10)
    }

    @Test func aLeaderDoesNotCommitAnEarlierTermsEntryByCountingReplicas() {
        // Raft figure 8: S1 leads term 4 with an entry of term 2 at index 2 replicated on a
        // majority; it must not commit it until an entry of term 4 is also on a majority.
        let e = { (t: UInt64, i: UInt64) in LogEntry(term: Term(t), index: LogIndex(i), command: [UInt8(i)]) }
        var s1 = RaftNode(id: rid(1), voters: (1 ... 5).map(rid), settings: .lan, random: SeededRandom(seed: 8), now: .zero,
                          hardState: HardState(term: Term(3)), log: [e(1, 1), e(2, 2)])
        _ = s1.tick(now: s1.nextWakeup)          // pre-vote
        for v in 2 ... 3 { _ = s1.step(.voteResponse(VoteResponse(preVote: true, term: Term(4), granted: true)), from: rid(v), now: s1.nextWakeup) }
        for v in 2 ... 3 { _ = s1.step(.voteResponse(VoteResponse(preVote: false, term: Term(4), granted: true)), from: rid(v), now: s1.nextWakeup) }
        #expect(s1.role == .leader && s1.term == Term(4))
        // S2 and S3 acknowledge index 2 only (not the term-4 no-op at 3).
        for v in 2 ... 3 {
            _ = s1.step(.appendResponse(AppendResponse(term: Term(4), success: true, matchIndex: LogIndex(2), hintIndex: .zero)), from: rid(v), now: .zero)
        }
        #expect(s1.commitIndex == .zero)
        _ = s1.step(.appendResponse(AppendResponse(term: Term(4), success: true, matchIndex: LogIndex(3), hintIndex: .zero)), from: rid(2), now: .zero)
        _ = s1.step(.appendResponse(AppendResponse(term: Term(4), success: true, matchIndex: LogIndex(3), hintIndex: .zero)), from: rid(3), now: .zero)
        #expect(s1.commitIndex == LogIndex(3))
    }

    @Test func aVoteIsGrantedOnlyToAnUpToDateLogOncePerTerm() {
        let e = { (t: UInt64, i: UInt64) in LogEntry(term: Term(t), index: LogIndex(i), command: []) }
        var n = RaftNode(id: rid(1), voters: (1 ... 3).map(rid), settings: .lan, random: SeededRandom(seed: 9), now: .zero,
                         hardState: HardState(term: Term(2)), log: [e(1, 1), e(2, 2)])
        func vote(_ from: Int, term: UInt64, lastIndex: UInt64, lastTerm: UInt64) -> Bool {
            let r = n.step(.requestVote(RequestVote(preVote: false, term: Term(term), lastLogIndex: LogIndex(lastIndex), lastLogTerm: Term(lastTerm))),
                           from: rid(from), now: .zero)
            if case let .voteResponse(v) = r.messages.last?.message { return v.granted }
            return false
        }
        #expect(!vote(2, term: 3, lastIndex: 5, lastTerm: 1))    // longer but older log
        #expect(vote(2, term: 3, lastIndex: 2, lastTerm: 2))
        #expect(!vote(3, term: 3, lastIndex: 9, lastTerm: 3))    // already voted in term 3
        #expect(vote(2, term: 3, lastIndex: 2, lastTerm: 2))     // the same candidate again
        #expect(n.hard.votedFor == rid(2))
    }

    /// A Jepsen-style schedule: random partitions, crashes and restarts, and 20 % loss
    /// while clients write; every seed must keep Raft's safety properties and lose no
    /// acknowledged write. (The long run is the simulator's `raft-random` scenario.)
    @Test(arguments: Array(UInt64(1) ... 12))
    func randomFaultsNeverBreakSafety(seed: UInt64) {
        var c = RaftCluster(size: 5, seed: seed)
        var rng = SeededRandom(seed: seed &* 7919)
        for _ in 0 ..< 40 {
            switch rng.next() % 6 {
            case 0: c.crash(c.ids[Int(rng.next() % 5)])
            case 1: if let i = c.crashed.first { c.restart(i) }
            case 2: for i in c.ids { c.groups[i] = Int(rng.next() % 2) }
            case 3: c.groups = [:]
            case 4: c.loss = rng.nextUnit() < 0.5 ? 0.2 : 0
            default: break
            }
            for k in 0 ..< 5 { _ = c.propose([UInt8(k), UInt8(truncatingIfNeeded: rng.next())]) }
            c.advance(by: .milliseconds(Int64(100 + rng.next() % 900)))
        }
        c.groups = [:]; c.loss = 0
        for i in c.crashed { c.restart(i) }
        c.advance(by: .seconds(5))
        _ = c.propose([255])
        c.advance(by: .seconds(1))
        #expect(c.violations.isEmpty, "seed \(seed): \(c.violations.first ?? "")")
        #expect(c.acknowledged.count > 20, "seed \(seed): the schedule let too few writes through to test anything")
        let longest = c.applied.values.max { $0.count < $1.count }!
        for (index, term, command) in c.acknowledged {
            let e = longest.first { $0.index == index }
            #expect(e?.term == term && e?.command == command, "seed \(seed): acknowledged write at \(index) lost")
        }
        for i in c.ids { #expect(c.applied[i]!.count == longest.count || c.nodes[i]!.applied == c.nodes[i]!.commitIndex, "seed \(seed) node \(i)") }
    }
}
