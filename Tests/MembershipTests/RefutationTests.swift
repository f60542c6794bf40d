import MeshCore
@testable import Membership
import Testing

/// What keeps a live member from being declared dead when datagrams are lost: a second
/// ping, refutations sent to the accuser, corrections sent back to a member relaying a
/// stale suspicion, a suspicion's last call, and a few members probing a new suspect.
struct RefutationTests {
    /// Probes from node `a` until the target is `target`, acking every other probe.
    func probe(_ a: inout Membership, until target: Int) -> Ping {
        while true {
            let ping = a.tick(now: a.nextProbeAt).pings.first!.0
            if ping.target == nodeID(target) { return ping }
            _ = a.receive(.ack(Ack(seq: ping.seq, coordinate: nil, updates: [])), from: ping.target,
                          address: address(Int(ping.target.w0)), now: a.nextProbeAt - .milliseconds(1))
        }
    }

    @Test func aLostPingIsSentAgainAtTheDirectDeadline() {
        var a = makeNode(1)
        a.learn([2, 3, 4, 5])
        let ping = probe(&a, until: 2)
        let p = a.pending!
        let second = a.tick(now: p.directDeadline)
        #expect(second.pings.map(\.1) == [address(2)])
        #expect(second.pings.allSatisfy { $0.0.seq == ping.seq && $0.0.target == nodeID(2) })
        #expect(second.pingRequests.count == 3)
        // An ack to the second ping ends the probe, but is no clean round trip to measure.
        _ = a.receive(.ack(Ack(seq: ping.seq, coordinate: nil, updates: [])), from: nodeID(2), address: address(2),
                      now: p.directDeadline + .milliseconds(2))
        #expect(a.pending == nil)
        #expect(a.member(nodeID(2))?.rtt == nil)
        #expect(a.tick(now: p.end).changes.isEmpty)
    }

    @Test func aSuspectSendsItsRefutationStraightToItsAccuser() {
        var a = makeNode(1)
        a.learn([2, 3])
        // Node 3 relays node 2's suspicion of us.
        let effects = a.receive(.gossip(Gossip(updates: [.suspect(id: nodeID(1), incarnation: .zero, from: nodeID(2))])),
                                from: nodeID(3), address: address(3), now: at(10))
        #expect(a.incarnation == Incarnation(1))
        let direct = effects.sends.filter { $0.1 == address(2) }
        #expect(direct.count == 1)
        guard case let .gossip(g) = direct.first?.0 else { Issue.record("no gossip to the accuser"); return }
        #expect(g.updates == [.alive(a.localAlive)])
    }

    @Test func aRelayOfAStaleSuspicionGetsTheNewerStateBack() {
        var a = makeNode(1)
        a.learn([2, 3])
        _ = a.receive(.gossip(Gossip(updates: [.alive(alive(2, 1))])), from: nodeID(2), address: address(2), now: at(5))
        // Node 3 still relays the suspicion node 2 has refuted.
        let stale = Update.suspect(id: nodeID(2), incarnation: .zero, from: nodeID(4))
        let effects = a.receive(.gossip(Gossip(updates: [stale])), from: nodeID(3), address: address(3), now: at(10))
        #expect(a.member(nodeID(2))?.status == .alive)
        #expect(a.metrics.correctionsSent == 1)
        let back = effects.sends.filter { $0.1 == address(3) }
        guard case let .gossip(g) = back.first?.0 else { Issue.record("no correction sent back"); return }
        #expect(g.updates == [.alive(alive(2, 1))])
        // A current suspicion (same incarnation) is no stale news: nothing is sent back.
        let current = a.receive(.gossip(Gossip(updates: [.suspect(id: nodeID(2), incarnation: Incarnation(1), from: nodeID(4))])),
                                from: nodeID(3), address: address(3), now: at(20))
        #expect(current.sends.filter { $0.1 == address(3) }.isEmpty)
        #expect(a.member(nodeID(2))?.status == .suspect)
    }

    @Test func staleNewsAboutThisNodeIsAnsweredWithItsCurrentState() {
        var a = makeNode(1, incarnation: Incarnation(3))
        a.learn([2, 3])
        let effects = a.receive(.gossip(Gossip(updates: [.dead(id: nodeID(1), incarnation: Incarnation(2), from: nodeID(2))])),
                                from: nodeID(3), address: address(3), now: at(10))
        #expect(a.incarnation == Incarnation(3))
        guard case let .gossip(g) = effects.sends.first(where: { $0.1 == address(3) })?.0 else {
            Issue.record("no correction sent back"); return
        }
        #expect(g.updates == [.alive(a.localAlive)])
    }

    @Test func anUnrefutedSuspicionMakesALastCallBeforeItsDeadline() {
        var a = makeNode(1)
        a.learn([2, 3, 4, 5, 6])
        _ = a.receive(.gossip(Gossip(updates: [.suspect(id: nodeID(2), incarnation: .zero, from: nodeID(3))])),
                      from: nodeID(3), address: address(3), now: at(10))
        let suspicion = a.suspicions[nodeID(2)]!
        let lastCall = suspicion.deadline - a.settings.suspicionLastCall
        // Let gossip retire every queued update before the last call.
        var now = at(10)
        while !a.queue.isEmpty, now < lastCall - .milliseconds(1) {
            now = min(a.nextGossipAt, lastCall - .milliseconds(1))
            _ = a.tick(now: now)
        }
        #expect(a.queue.queued(about: nodeID(2)) == nil)
        _ = a.tick(now: lastCall)
        #expect(a.queue.queued(about: nodeID(2)) == .suspect(id: nodeID(2), incarnation: .zero, from: nodeID(3)))
        // It rides exactly `suspicionLastCallTransmissions` messages.
        var carried = 0
        now = lastCall
        for _ in 0 ..< 20 {
            now = a.nextGossipAt
            guard now < suspicion.deadline else { break }
            for (message, _) in a.tick(now: now).sends {
                if case let .gossip(g) = message, g.updates.contains(where: { $0.subject == nodeID(2) }) { carried += 1 }
            }
        }
        #expect(carried == a.settings.suspicionLastCallTransmissions)
        // A member holding the refutation answers it: no death at the deadline.
        _ = a.receive(.gossip(Gossip(updates: [.alive(alive(2, 1))])), from: nodeID(4), address: address(4), now: now)
        #expect(a.tick(now: suspicion.deadline).changes.isEmpty)
        #expect(a.member(nodeID(2))?.status == .alive)
    }

    @Test func aMemberThatLearnsOfASuspicionMayProbeTheSuspectNext() {
        var settings = MembershipSettings.lan
        settings.suspicionProbers = 1_000   // every member that hears of it
        var a = makeNode(1, settings: settings)
        a.learn([2, 3, 4, 5, 6, 7, 8])
        _ = a.receive(.gossip(Gossip(updates: [.suspect(id: nodeID(6), incarnation: .zero, from: nodeID(3))])),
                      from: nodeID(3), address: address(3), now: at(10))
        let next = a.tick(now: max(a.nextProbeAt, at(10))).pings
        #expect(next.first?.0.target == nodeID(6))
        // Lifeguard's buddy system: the suspect is told of its suspicion with the probe.
        #expect(next.first?.0.updates.first == .suspect(id: nodeID(6), incarnation: .zero, from: nodeID(1)))

        settings.suspicionProbers = 0
        var b = makeNode(1, settings: settings)
        b.learn([2, 3, 4, 5, 6, 7, 8])
        _ = b.receive(.gossip(Gossip(updates: [.suspect(id: nodeID(6), incarnation: .zero, from: nodeID(3))])),
                      from: nodeID(3), address: address(3), now: at(10))
        #expect(b.urgentProbe == nil)
    }
}
