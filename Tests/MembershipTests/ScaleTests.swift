import MeshCore
@testable @_spi(Simulation) import Membership
import Testing

/// What keeps a large mesh cheap: push-pull's byte budget, full states without others'
/// coordinates, and the simulator's converged start.
struct ScaleTests {
    @Test func pushPullPeriodFollowsMemberlistThenTheByteBudget() {
        let lan = MembershipSettings.lan
        #expect(lan.pushPullPeriod(members: 32) == .seconds(30))
        // memberlist's scale: 1,000 members are 5 doublings past 32 → 6 intervals.
        #expect(lan.pushPullPeriod(members: 1000) == .seconds(180))
        // 5,000 members: 2 × 5,000 × 64 B at 1,000 B/s is 640 s, longer than the log scale's 270 s.
        #expect(lan.pushPullPeriod(members: 5000) == .seconds(640))
        var tight = lan
        tight.pushPullBytesPerSecond = 100
        #expect(tight.pushPullPeriod(members: 1000) == .seconds(1280))
    }

    @Test func fullStateCarriesOnlyTheSendersOwnCoordinate() {
        var a = makeNode(1)
        a.learn([2])
        let ping = a.tick(now: a.nextProbeAt).pings[0].0
        var c = Coordinate()
        c.height = 0.002
        _ = a.receive(.ack(Ack(seq: ping.seq, coordinate: c, updates: [])), from: nodeID(2), address: address(2),
                      now: a.nextProbeAt - .milliseconds(999))
        #expect(a.member(nodeID(2))?.coordinate == c)
        let e = a.receive(.pushPull(PushPull(isJoin: false, isReply: false, states: [])), from: nodeID(2),
                          address: address(2), now: at(10))
        guard case let .reply(reply, _)? = e.first(where: { if case .reply = $0 { true } else { false } }) else {
            Issue.record("no reply"); return
        }
        #expect(reply.states.first { $0.alive.id == nodeID(1) }?.coordinate != nil)
        #expect(reply.states.first { $0.alive.id == nodeID(2) }?.coordinate == nil)
    }

    @Test func aPreloadedNodeKnowsEveryoneAliveAndHasNothingToGossip() {
        var a = makeNode(1)
        a.preload((1 ... 50).map { alive($0) }, now: .zero)
        #expect(a.members.count == 50)
        #expect(a.members.allSatisfy { $0.status == .alive })
        #expect(a.queue.isEmpty)
        // Its first push-pull falls somewhere in one period, not at the unscaled interval.
        #expect(a.nextPushPullAt < MeshTime.zero + MembershipSettings.lan.pushPullPeriod(members: 50))
        // It probes the preloaded members in round-robin order, each once per round.
        var probed: Set<NodeID> = []
        var now = a.nextProbeAt
        for _ in 0 ..< 49 {
            let ping = a.tick(now: now).pings[0].0
            probed.insert(ping.target)
            _ = a.receive(.ack(Ack(seq: ping.seq, coordinate: nil, updates: [])), from: ping.target,
                          address: address(Int(ping.target.w0)), now: now + .milliseconds(1))
            now = a.nextProbeAt
        }
        #expect(probed == Set((2 ... 50).map(nodeID)))
    }
}
