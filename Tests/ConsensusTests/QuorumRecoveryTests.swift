@testable import Consensus
import MeshCore
import Testing

/// `forceSoleVoter`: the operator's way out when a voter set lost its quorum for good.
struct QuorumRecoveryTests {
    @Test func refusedWhileALeaderIsHeardOrThisNodeLeads() throws {
        var c = RaftCluster(size: 3, seed: 21)
        c.advance(by: .seconds(2))
        let leader = try #require(c.leader)
        let follower = try #require(c.ids.first { $0 != leader })
        guard case .failure(.quorumReachable) = c.nodes[leader]!.forceSoleVoter(learners: [], now: c.now) else {
            Issue.record("the leader re-formed a voter set that has its quorum"); return
        }
        guard case .failure(.quorumReachable(leader: rid(leader))) = c.nodes[follower]!.forceSoleVoter(learners: [], now: c.now) else {
            Issue.record("a follower of a live leader re-formed the voter set"); return
        }
        #expect(c.nodes[follower]!.voters.count == 3)
    }

    @Test func aSurvivorOfALostQuorumLeadsAloneKeepsItsLogAndRefillsTheOthers() throws {
        var c = RaftCluster(size: 3, seed: 22)
        c.advance(by: .seconds(2))
        for k in 0 ..< 5 { _ = c.propose([UInt8(k)]) }
        c.advance(by: .milliseconds(200))
        let leader = try #require(c.leader)
        let others = c.ids.filter { $0 != leader }
        // Two voters are destroyed: the survivor can never win an election again.
        c.crash(leader); c.crash(others[1])
        let survivor = others[0]
        c.advance(by: .seconds(3))
        #expect(c.leader == nil)
        let before = c.nodes[survivor]!
        let r = c.nodes[survivor]!.forceSoleVoter(learners: [rid(others[1])], now: c.now)
        guard case let .success(ready) = r else { Issue.record("refused: \(r)"); return }
        let n = c.nodes[survivor]!
        #expect(n.role == .leader && n.term > before.term)
        #expect(n.voters == [rid(survivor)])
        #expect(n.configuration.learners == [rid(others[1])])
        #expect(ready.hardState?.term == n.term && ready.hardState?.votedFor == rid(survivor))
        #expect(n.commitIndex == n.lastIndex)                       // its own quorum: committed at once
        c.execute(survivor, ready)
        // Every write the old set acknowledged survived, and new writes commit.
        #expect(c.applied[survivor]!.filter { $0.kind == .command && !$0.command.isEmpty }.map(\.command) == (0 ..< 5).map { [UInt8($0)] })
        let proposed = c.propose([42])
        #expect(proposed)
        c.advance(by: .milliseconds(100))
        #expect(c.acknowledged.contains { $0.2 == [42] })
        // The other survivor comes back and refills as a learner from the new leader.
        c.restart(others[1])
        c.advance(by: .seconds(1))
        #expect(c.nodes[others[1]]!.leader == rid(survivor))
        #expect(c.applied[others[1]]!.filter { $0.kind == .command && !$0.command.isEmpty }.last?.command == [42])
        #expect(c.violations.isEmpty)
    }

    @Test func refusedOnANodeWhoseStorageWasReset() {
        var n = RaftNode(id: rid(1), voters: [rid(1), rid(2), rid(3)], settings: .lan, random: SeededRandom(seed: 3), now: .zero,
                         abstaining: true)
        guard case .failure(.abstaining) = n.forceSoleVoter(learners: [], now: MeshTime.zero + .seconds(5)) else {
            Issue.record("an abstaining node re-formed the voter set"); return
        }
    }
}
