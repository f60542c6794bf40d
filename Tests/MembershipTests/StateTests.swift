import MeshCore
@testable import Membership
import Testing

/// Incarnation rules, suspicion, refutation, death, leave, rejoin and reaping.
struct StateTests {
    @Test func suspicionShrinksWithIndependentConfirmationsThenDeclaresDead() {
        var a = makeNode(1)
        a.learn(Array(2 ... 10))
        _ = a.receive(.gossip(Gossip(updates: [.suspect(id: nodeID(2), incarnation: .zero, from: nodeID(3))])),
                      from: nodeID(3), address: address(3), now: .zero)
        let n = a.liveCount
        let maxT = a.settings.maxSuspicionTimeout(members: n), minT = a.settings.minSuspicionTimeout(members: n)
        #expect(a.suspicions[nodeID(2)]!.deadline == MeshTime.zero + maxT)
        for c in 4 ... 6 {
            _ = a.receive(.gossip(Gossip(updates: [.suspect(id: nodeID(2), incarnation: .zero, from: nodeID(c))])),
                          from: nodeID(c), address: address(c), now: .zero)
        }
        #expect(a.suspicions[nodeID(2)]!.deadline == MeshTime.zero + minT)
        #expect(a.tick(now: MeshTime.zero + minT - .milliseconds(1)).changes.isEmpty)
        let e = a.tick(now: MeshTime.zero + minT)
        #expect(e.changes.map(\.kind) == [.dead])
        #expect(a.member(nodeID(2))?.status == .dead)
    }

    @Test func aConfirmationFromTheSameMemberDoesNotCount() {
        var a = makeNode(1)
        a.learn(Array(2 ... 10))
        for _ in 0 ..< 3 {
            _ = a.receive(.gossip(Gossip(updates: [.suspect(id: nodeID(2), incarnation: .zero, from: nodeID(3))])),
                          from: nodeID(3), address: address(3), now: .zero)
        }
        #expect(a.suspicions[nodeID(2)]!.confirmations == 0)
    }

    @Test func aSuspectedNodeRefutesWithAHigherIncarnation() {
        var a = makeNode(1)
        a.learn([2])
        _ = a.receive(.gossip(Gossip(updates: [.suspect(id: nodeID(1), incarnation: .zero, from: nodeID(2))])),
                      from: nodeID(2), address: address(2), now: .zero)
        #expect(a.incarnation == Incarnation(1))
        #expect(a.metrics.refutations == 1)
        // The refutation rides on the next message.
        let ack = a.receive(.ping(Ping(seq: 1, target: nodeID(1), coordinate: nil, updates: [])), from: nodeID(2), address: address(2), now: at(1)).acks[0].0
        #expect(ack.updates.contains(.alive(AliveUpdate(id: nodeID(1), incarnation: Incarnation(1), name: "n1", addresses: [address(1)], metadata: .init()))))
    }

    @Test func anAliveWithAHigherIncarnationClearsASuspicion() {
        var a = makeNode(1)
        a.learn([2, 3])
        _ = a.receive(.gossip(Gossip(updates: [.suspect(id: nodeID(2), incarnation: .zero, from: nodeID(3))])), from: nodeID(3), address: address(3), now: .zero)
        let e = a.receive(.gossip(Gossip(updates: [.alive(alive(2, 1))])), from: nodeID(2), address: address(2), now: at(10))
        #expect(e.changes.map(\.kind) == [.refuted])
        #expect(a.member(nodeID(2))?.status == .alive)
        #expect(a.member(nodeID(2))?.incarnation == Incarnation(1))
    }

    @Test func staleIncarnationsAreIgnored() {
        var a = makeNode(1)
        a.learn([2, 3])
        _ = a.receive(.gossip(Gossip(updates: [.alive(alive(2, 5))])), from: nodeID(2), address: address(2), now: .zero)
        let e = a.receive(.gossip(Gossip(updates: [.suspect(id: nodeID(2), incarnation: Incarnation(4), from: nodeID(3)),
                                                   .dead(id: nodeID(2), incarnation: Incarnation(3), from: nodeID(3)),
                                                   .alive(alive(2, 4))])),
                          from: nodeID(3), address: address(3), now: at(1))
        #expect(e.changes.isEmpty)
        #expect(a.member(nodeID(2))?.status == .alive)
        #expect(a.member(nodeID(2))?.incarnation == Incarnation(5))
    }

    @Test func leaveIsSeenAsLeftAndARestartedNodeRejoinsWithANewIncarnation() {
        var a = makeNode(1)
        a.learn([2, 3])
        let e = a.receive(.gossip(Gossip(updates: [.dead(id: nodeID(2), incarnation: .zero, from: nodeID(2))])), from: nodeID(2), address: address(2), now: .zero)
        #expect(e.changes.map(\.kind) == [.left])
        #expect(a.member(nodeID(2))?.status == .left)
        // Its restart refutes the leave with a higher incarnation: the same identity rejoins.
        let back = a.receive(.gossip(Gossip(updates: [.alive(alive(2, 1))])), from: nodeID(2), address: address(2), now: at(5))
        #expect(back.changes.map(\.kind) == [.joined])
        #expect(a.member(nodeID(2))?.status == .alive)
    }

    @Test func deadMembersAreReapedAfterTheInterval() {
        var a = makeNode(1)
        a.learn([2, 3])
        _ = a.receive(.gossip(Gossip(updates: [.dead(id: nodeID(2), incarnation: .zero, from: nodeID(3))])), from: nodeID(3), address: address(3), now: .zero)
        _ = a.tick(now: MeshTime.zero + a.settings.reapInterval - .seconds(1))
        #expect(a.member(nodeID(2)) != nil)
        let e = a.tick(now: MeshTime.zero + a.settings.reapInterval)
        #expect(e.changes.map(\.kind).contains(.reaped))
        #expect(a.member(nodeID(2)) == nil)
    }

    @Test func oversizedMetadataIsRefused() {
        var a = makeNode(1)
        let big = alive(2).with(metadata: MemberMetadata(tags: ["blob": String(repeating: "x", count: 600)]))
        let e = a.receive(.gossip(Gossip(updates: [.alive(big)])), from: nodeID(2), address: address(2), now: .zero)
        #expect(e.changes.isEmpty)
        #expect(a.member(nodeID(2)) == nil)
        #expect(a.metrics.metadataRejected == 1)
    }

    @Test func metadataChangesDisseminateWithANewIncarnation() {
        var a = makeNode(1)
        a.learn([2])
        _ = a.updateMetadata(MemberMetadata(tags: ["arch": "arm64"]), now: .zero)
        #expect(a.incarnation == Incarnation(1))
        let ping = a.tick(now: a.nextProbeAt).pings[0].0
        #expect(ping.updates.contains { if case let .alive(u) = $0 { u.id == nodeID(1) && u.metadata.tags["arch"] == "arm64" } else { false } })
    }

    @Test func pushPullReplyCarriesTheFullStateAndDeadIsOnlySuspectedFromIt() {
        var a = makeNode(1)
        a.learn([2, 3])
        let push = PushPull(isJoin: true, isReply: false, states: [
            MemberState(alive: alive(4), status: .alive, coordinate: nil),
            MemberState(alive: alive(3), status: .dead, coordinate: nil),
        ])
        let e = a.receive(.pushPull(push), from: nodeID(4), address: address(4), now: .zero)
        guard case let .reply(reply, to)? = e.first(where: { if case .reply = $0 { true } else { false } }) else {
            Issue.record("no reply"); return
        }
        #expect(to == address(4) && reply.isReply)
        #expect(Set(reply.states.map(\.alive.id)) == Set([1, 2, 3, 4].map(nodeID)))
        #expect(a.member(nodeID(4))?.status == .alive)
        #expect(a.member(nodeID(3))?.status == .suspect)
    }
}
