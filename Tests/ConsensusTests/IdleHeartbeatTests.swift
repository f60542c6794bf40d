@testable import Consensus
import MeshCore
import Testing

/// A quiet leader heartbeats every `idleHeartbeatInterval`; anything to replicate or a
/// missing answer brings back `heartbeatInterval` for the next round; an isolated leader
/// steps down one election timeout after its quorum last answered.
struct IdleHeartbeatTests {
    let settings = RaftSettings.lan

    /// A 3-voter cluster after its first election with every message delivered, and its leader.
    func settled() -> (RaftCluster, Int) {
        var c = RaftCluster(size: 3, seed: 11)
        c.advance(by: .seconds(2))
        return (c, c.leader!)
    }

    /// Runs the leader's next heartbeat round: hands its messages to `answering` (and their
    /// answers back to it at once); drops the others. Returns when the round ran.
    func heartbeat(_ c: inout RaftCluster, _ l: Int, answering: Set<Int>) -> MeshTime {
        let t = c.nodes[l]!.heartbeatAt
        let r = c.nodes[l]!.tick(now: t)
        #expect(r.messages.count == 2, "a heartbeat to each follower")
        deliver(&c, from: l, r, to: answering, at: t)
        return t
    }

    func deliver(_ c: inout RaftCluster, from l: Int, _ r: RaftReady, to answering: Set<Int>, at t: MeshTime) {
        for m in r.messages where answering.contains(c.index(m.to)) {
            let j = c.index(m.to)
            let answer = c.nodes[j]!.step(m.message, from: rid(l), now: t)
            for a in answer.messages where a.to == rid(l) { _ = c.nodes[l]!.step(a.message, from: rid(j), now: t) }
        }
    }

    @Test func aQuietLeaderWaitsTheIdleIntervalAndAMissingAnswerBringsBackTheShortOne() {
        var (c, l) = settled()
        let followers = Set(c.ids.filter { $0 != l })
        let one = followers.min()!
        var t = heartbeat(&c, l, answering: followers)
        #expect(c.nodes[l]!.heartbeatAt == t + settings.idleHeartbeatInterval)
        t = heartbeat(&c, l, answering: followers)
        #expect(c.nodes[l]!.heartbeatAt == t + settings.idleHeartbeatInterval)
        // One follower's heartbeat is lost: the round is repeated after the short interval...
        t = heartbeat(&c, l, answering: [one])
        #expect(c.nodes[l]!.heartbeatAt == t + settings.heartbeatInterval)
        // ...and so is a round nobody answers...
        t = heartbeat(&c, l, answering: [])
        #expect(c.nodes[l]!.heartbeatAt == t + settings.heartbeatInterval)
        // ...and once both answered again, the long one.
        t = heartbeat(&c, l, answering: followers)
        #expect(c.nodes[l]!.heartbeatAt == t + settings.idleHeartbeatInterval)
        #expect(c.nodes[l]!.role == .leader)
    }

    /// Unanswered rounds spaced by the idle interval would leave too few tries inside an
    /// election timeout (10 % loss then cost 15 elections an hour in `raft-idle-loss-10`):
    /// every unanswered round is repeated after the short interval until the leader's
    /// quorum contact runs out.
    @Test func theFollowersAreTriedAtTheShortIntervalUntilTheQuorumContactRunsOut() {
        var (c, l) = settled()
        let followers = Set(c.ids.filter { $0 != l })
        let answered = heartbeat(&c, l, answering: followers)
        var tries = 0
        while c.nodes[l]!.role == .leader {
            let t = c.nodes[l]!.nextWakeup
            let r = c.nodes[l]!.tick(now: t)
            if c.nodes[l]!.role == .leader { #expect(r.messages.count == 2); tries += 1 }
            else {
                // Steps down exactly one election timeout and one short interval after the last answer.
                #expect(t == answered + settings.electionTimeout + settings.heartbeatInterval)
            }
        }
        // At the idle interval after the answered round, then every short interval.
        let window = settings.electionTimeout + settings.heartbeatInterval
        let expected = Int(((window - settings.idleHeartbeatInterval) / settings.heartbeatInterval).rounded(.up))
        #expect(tries == expected && tries >= 4)
    }

    @Test func aLeaderWithEntriesToReplicateKeepsTheShortInterval() {
        var (c, l) = settled()
        let followers = Set(c.ids.filter { $0 != l })
        var t = heartbeat(&c, l, answering: followers)
        #expect(c.nodes[l]!.heartbeatAt == t + settings.idleHeartbeatInterval)
        // A proposal whose AppendEntries are still on their way: not quiet.
        guard case let .success((_, _, ready)) = c.nodes[l]!.propose([7], now: t) else { Issue.record("not leader"); return }
        t = heartbeat(&c, l, answering: followers)
        #expect(c.nodes[l]!.heartbeatAt == t + settings.heartbeatInterval)
        // Replicated and committed: quiet again after the next round of answers.
        deliver(&c, from: l, ready, to: followers, at: t)
        #expect(c.nodes[l]!.commitIndex == c.nodes[l]!.lastIndex)
        t = heartbeat(&c, l, answering: followers)
        #expect(c.nodes[l]!.heartbeatAt == t + settings.idleHeartbeatInterval)
    }

    @Test func anIdleClusterStillElectsNoOneElseAndFailsOverAsFast() {
        // Idle for a minute on a clean network: one term, one leader.
        var c = RaftCluster(size: 3, seed: 12)
        c.advance(by: .seconds(2))
        let leader = c.leader!, term = c.nodes[leader]!.term
        c.advance(by: .seconds(60))
        #expect(c.leader == leader && c.nodes[leader]!.term == term)
        // The leader dies: a new one within two election timeouts plus a few round trips.
        c.crash(leader)
        c.advance(by: settings.electionTimeout * 2 + .milliseconds(100))
        #expect(c.leader != nil && c.leader != leader)
        #expect(c.violations.isEmpty)
    }
}
