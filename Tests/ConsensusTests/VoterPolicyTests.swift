@testable import Consensus
import MeshCore
import Testing

struct VoterPolicyTests {
    let policy = VoterPolicy(desiredVoters: 3, deadGrace: .seconds(30), catchUpLag: 16)
    let now = MeshTime.zero + .seconds(1000)

    func alive(_ ids: [Int], never: Set<Int> = []) -> [NodeID: VoterPolicy.Member] {
        Dictionary(uniqueKeysWithValues: ids.map { (rid($0), VoterPolicy.Member(alive: true, neverVoter: never.contains($0))) })
    }

    @Test func aSingleNodeGrowsToThreeVotersThroughLearners() {
        var c = RaftConfiguration(voters: [rid(1)])
        let members = alive([1, 2, 3, 4])
        var changes = 0
        while let next = policy.nextChange(leader: rid(1), configuration: c, members: members,
                                           matchIndex: [rid(2): LogIndex(100), rid(3): LogIndex(100), rid(4): LogIndex(100)],
                                           lastIndex: LogIndex(100), now: now) {
            #expect(Set(c.voters).symmetricDifference(Set(next.voters)).count <= 1)
            c = next; changes += 1
            if changes > 10 { Issue.record("no fixed point"); break }
        }
        #expect(c.voters == [1, 2, 3].map(rid))
        #expect(c.learners.isEmpty)
    }

    @Test func aLaggingLearnerIsNotPromoted() {
        let c = RaftConfiguration(voters: [rid(1)], learners: [rid(2)])
        let next = policy.nextChange(leader: rid(1), configuration: c, members: alive([1, 2, 3]),
                                     matchIndex: [rid(2): LogIndex(10)], lastIndex: LogIndex(100), now: now)
        #expect(next == nil)
    }

    @Test func aVoterDeadPastTheGraceIsReplaced() {
        let c = RaftConfiguration(voters: [1, 2, 3].map(rid))
        var members = alive([1, 2, 4])
        members[rid(3)] = .init(alive: false, downSince: now - .seconds(10))
        #expect(policy.nextChange(leader: rid(1), configuration: c, members: members, matchIndex: [:], lastIndex: LogIndex(5), now: now) == nil)
        members[rid(3)] = .init(alive: false, downSince: now - .seconds(31))
        let removed = policy.nextChange(leader: rid(1), configuration: c, members: members, matchIndex: [:], lastIndex: LogIndex(5), now: now)
        #expect(removed == RaftConfiguration(voters: [1, 2].map(rid)))
        let learner = policy.nextChange(leader: rid(1), configuration: removed!, members: members, matchIndex: [:], lastIndex: LogIndex(5), now: now)
        #expect(learner == RaftConfiguration(voters: [1, 2].map(rid), learners: [rid(4)]))
    }

    @Test func aFailureNeverShrinksTheVoterSetBeforeTheGrace() {
        let c = RaftConfiguration(voters: [1, 2, 3].map(rid))
        var members = alive([1, 2])
        members[rid(3)] = .init(alive: false, downSince: now - .seconds(5))
        // Two healthy members left: the wanted count rounds to one, yet nobody is removed.
        #expect(policy.nextChange(leader: rid(1), configuration: c, members: members, matchIndex: [:], lastIndex: LogIndex(5), now: now) == nil)
    }

    @Test func neverVotersAreNeverChosenAndEvenCountsRoundDown() {
        let c = RaftConfiguration(voters: [rid(1)])
        let members = alive([1, 2, 3], never: [3])
        // Two eligible members: one voter is wanted (an even voter set adds no safety).
        #expect(policy.nextChange(leader: rid(1), configuration: c, members: members, matchIndex: [:], lastIndex: .zero, now: now) == nil)
    }
}
