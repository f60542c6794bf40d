import MeshCore
@testable import Membership
import Testing

/// Whole-protocol behaviour on a small in-test network with virtual time.
struct ClusterTests {
    @Test func tenNodesConvergeAndStayAliveWithoutFalseSuspicion() {
        var c = MiniCluster(size: 10)
        c.advance(by: .seconds(30))
        for o in c.live { for t in c.live { #expect(c.status(of: t, seenBy: o) == .alive, "\(o) sees \(t)") } }
        let suspicions = c.log.values.flatMap { $0 }.filter { $0.kind == .suspected }
        #expect(suspicions.isEmpty)
    }

    @Test func aCrashedNodeIsDeclaredDeadByEveryLiveNode() {
        var c = MiniCluster(size: 10)
        c.advance(by: .seconds(10))
        c.crashed.insert(5)
        let bound = MembershipSettings.lan.maxSuspicionTimeout(members: 10) + .seconds(10)
        c.advance(by: bound)
        for o in c.live { #expect(c.status(of: 5, seenBy: o) == .dead, "node \(o)") }
    }

    @Test func aLeavingNodeIsSeenAsLeftNotDead() {
        var c = MiniCluster(size: 6)
        c.advance(by: .seconds(10))
        var n3 = c.nodes[3]!
        let e = n3.leave(now: c.now)
        c.nodes[3] = n3
        c.run(3, e)
        c.advance(by: .seconds(5))
        #expect(c.crashed.contains(3))   // .leftMesh was emitted
        for o in c.live { #expect(c.status(of: 3, seenBy: o) == .left, "node \(o)") }
    }

    @Test func aRestartedNodeRejoinsWithTheSameIdentity() {
        var c = MiniCluster(size: 6)
        c.advance(by: .seconds(10))
        c.crashed.insert(4)
        c.advance(by: .seconds(40))
        #expect(c.status(of: 4, seenBy: 1) == .dead)
        c.crashed.remove(4)
        c.nodes[4] = makeNode(4, now: c.now, seed: 99)
        var n4 = c.nodes[4]!
        let e = n4.join([address(1)], now: c.now)
        c.nodes[4] = n4
        c.run(4, e)
        c.advance(by: .seconds(10))
        for o in c.live { #expect(c.status(of: 4, seenBy: o) == .alive, "node \(o)") }
        #expect(c.nodes[4]!.incarnation > .zero)
    }

    @Test func aCutOffNodeIsDeadOnTheOtherSideAndRejoinsWhenHealed() {
        var c = MiniCluster(size: 8)
        c.advance(by: .seconds(10))
        c.cut.insert(8)
        c.advance(by: .seconds(40))
        #expect(c.status(of: 8, seenBy: 1) == .dead)
        c.cut.remove(8)
        // Push-pull (and gossip to the dead) lets node 8 learn and refute.
        c.advance(by: MembershipSettings.lan.pushPullPeriod(members: 8) * 3)
        for o in c.live { #expect(c.status(of: 8, seenBy: o) == .alive, "node \(o)") }
    }

    @Test func halvesApartLongEnoughToDeclareEachOtherDeadFindEachOtherAfterTheHeal() {
        var c = MiniCluster(size: 12)
        c.advance(by: .seconds(15))
        for i in 7 ... 12 { c.side[i] = 1 }
        c.advance(by: .seconds(90))      // long past suspicion and the gossip-to-the-dead window
        #expect(c.status(of: 12, seenBy: 1) == .dead)
        #expect(c.nodes[1]!.queue.isEmpty)   // nothing left to gossip: only reconnects can heal
        c.side = [:]
        c.advance(by: .seconds(30))
        for o in c.live { for t in c.live { #expect(c.status(of: t, seenBy: o) == .alive, "\(o) sees \(t)") } }
    }

    @Test func joinIsRetriedUntilTheSeedAnswers() {
        var c = MiniCluster(size: 1)
        c.nodes[2] = makeNode(2)
        c.crashed.insert(1)
        var n2 = c.nodes[2]!
        let e = n2.join([address(1)], now: c.now)
        c.nodes[2] = n2
        c.run(2, e)
        c.advance(by: .seconds(5))
        c.crashed.remove(1)
        c.advance(by: MembershipSettings.lan.joinRetryMax + .seconds(2))
        #expect(c.status(of: 2, seenBy: 1) == .alive)
        #expect(c.status(of: 1, seenBy: 2) == .alive)
    }
}
