import MeshCore
@testable import Membership
import Testing

/// The state machine driven message by message.
struct ProbeTests {
    @Test func directProbeAckedKeepsTheMemberAliveAndMeasuresRTT() {
        var a = makeNode(1)
        a.learn([2])
        let effects = a.tick(now: a.nextWakeup)
        let (ping, to) = try! #require(effects.pings.first)
        #expect(to == address(2))
        #expect(ping.target == nodeID(2))
        let sentAt = a.pending!.sentAt
        let after = a.receive(.ack(Ack(seq: ping.seq, coordinate: Coordinate(), updates: [])), from: nodeID(2),
                              address: address(2), now: sentAt + .milliseconds(3))
        #expect(after.changes.isEmpty)
        #expect(a.member(nodeID(2))?.rtt == .milliseconds(3))
        #expect(a.member(nodeID(2))?.answeredAddress == address(2))
        #expect(a.pending == nil)
        #expect(a.metrics.probesSent == 1 && a.metrics.probeFailures == 0)
    }

    @Test func missingAckLeadsToIndirectProbesThenSuspicion() {
        var a = makeNode(1)
        a.learn([2, 3, 4, 5])
        // Probe until the target is node 2.
        var ping: Ping
        repeat {
            ping = a.tick(now: a.nextProbeAt).pings.first!.0
            if ping.target != nodeID(2) { _ = a.receive(.ack(Ack(seq: ping.seq, coordinate: nil, updates: [])), from: ping.target, address: address(Int(ping.target.w0)), now: a.nextProbeAt - .milliseconds(1)) }
        } while ping.target != nodeID(2)
        let p = a.pending!
        let indirect = a.tick(now: p.directDeadline)
        #expect(indirect.pingRequests.count == 3)
        #expect(Set(indirect.pingRequests.map(\.1)) == Set([address(3), address(4), address(5)]))
        #expect(indirect.pingRequests.allSatisfy { $0.0.target == nodeID(2) && $0.0.wantsNack && $0.0.seq == ping.seq })
        // Two helpers answer with nacks: only the missing one counts against our health.
        for h in [3, 4] { _ = a.receive(.nack(Nack(seq: ping.seq, updates: [])), from: nodeID(h), address: address(h), now: p.directDeadline + .milliseconds(50)) }
        let end = a.tick(now: p.end)
        #expect(end.changes.map(\.kind) == [.suspected])
        #expect(a.member(nodeID(2))?.status == .suspect)
        #expect(a.healthScore == 1)
    }

    @Test func anAckThroughAHelperCountsAsSuccess() {
        var a = makeNode(1)
        a.learn([2, 3, 4])
        let ping = a.tick(now: a.nextProbeAt).pings.first!.0
        let p = a.pending!
        _ = a.tick(now: p.directDeadline)
        let helper = ping.target == nodeID(3) ? 4 : 3
        _ = a.receive(.ack(Ack(seq: ping.seq, coordinate: nil, updates: [])), from: nodeID(helper), address: address(helper), now: p.directDeadline + .milliseconds(10))
        #expect(a.pending == nil)
        #expect(a.tick(now: p.end).changes.isEmpty)
        #expect(a.member(ping.target)?.status == .alive)
    }

    @Test func relayProbesTheTargetAndForwardsTheAckOrSendsANack() {
        var b = makeNode(2)
        b.learn([1, 3])
        let req = PingRequest(seq: 77, target: nodeID(3), targetAddresses: [address(3)], wantsNack: true, updates: [])
        let e = b.receive(.pingRequest(req), from: nodeID(1), address: address(1), now: at(0))
        let (ping, to) = try! #require(e.pings.first)
        #expect(to == address(3) && ping.target == nodeID(3))
        let fwd = b.receive(.ack(Ack(seq: ping.seq, coordinate: nil, updates: [])), from: nodeID(3), address: address(3), now: at(5))
        #expect(fwd.acks.map(\.0.seq) == [77])
        #expect(fwd.acks.map(\.1) == [address(1)])

        // No answer: a nack at 80% of the probe timeout, then nothing more.
        let e2 = b.receive(.pingRequest(PingRequest(seq: 78, target: nodeID(3), targetAddresses: [address(3)], wantsNack: true, updates: [])),
                           from: nodeID(1), address: address(1), now: at(1000))
        #expect(e2.pings.count == 1)
        let nack = b.tick(now: at(1000) + MembershipSettings.lan.probeTimeout.scaled(by: 0.8))
        #expect(nack.nacks.map(\.0.seq) == [78])
        #expect(b.tick(now: at(2100)).nacks.isEmpty)
    }

    @Test func aPingForAnotherNodeIsIgnored() {
        var a = makeNode(1)
        let e = a.receive(.ping(Ping(seq: 1, target: nodeID(9), coordinate: nil, updates: [])), from: nodeID(2), address: address(2), now: .zero)
        #expect(e.isEmpty)
        #expect(a.metrics.pingsForAnotherNode == 1)
    }

    @Test func aPingIsAnsweredAndItsUpdatesApplied() {
        var a = makeNode(1)
        let e = a.receive(.ping(Ping(seq: 5, target: nodeID(1), coordinate: nil, updates: [.alive(alive(2))])), from: nodeID(2), address: address(2), now: .zero)
        #expect(e.acks.map(\.0.seq) == [5])
        #expect(e.changes.map(\.kind) == [.joined])
        #expect(a.member(nodeID(2))?.status == .alive)
    }

    @Test func aMemberWithSeveralAddressesIsTriedOnEachBeforeSuspicion() {
        var a = makeNode(1)
        let radio = PeerAddress(192, 168, 1, 2, port: 7600)
        let two = alive(2).with(addresses: [radio, address(2)])
        _ = a.receive(.gossip(Gossip(updates: [.alive(two)])), from: nodeID(2), address: address(2), now: .zero)
        let first = a.tick(now: a.nextProbeAt).pings
        #expect(first.map(\.1) == [radio])
        let p = a.pending!
        let retry = a.tick(now: p.directDeadline)
        #expect(retry.pings.map(\.1) == [radio, address(2)])
        _ = a.receive(.ack(Ack(seq: p.seq, coordinate: nil, updates: [])), from: nodeID(2), address: address(2), now: p.directDeadline + .milliseconds(2))
        #expect(a.member(nodeID(2))?.answeredAddress == address(2))
        // The probe period ends without suspicion, and the next probe (due at the same
        // instant) goes to the address that answered.
        let next = a.tick(now: p.end)
        #expect(next.changes.isEmpty)
        #expect(next.pings.map(\.1) == [address(2)])
    }
}
