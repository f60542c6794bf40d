import MeshCore
@testable import EventLog
import MeshWire
import Testing

/// Two agents, as in a two-node mesh started one after the other: every message delivered
/// at once, virtual time in 10 ms steps.
struct TwoNodeReplicationTests {
    struct Pair {
        var a: Replicator<MemoryEventStore>
        var b: Replicator<MemoryEventStore>
        let aID: NodeID, bID: NodeID
        var now = MeshTime.zero
        /// Wall clock: 1,700,000,000,000 ms at virtual time zero.
        var wall: UInt64 { 1_700_000_000_000 + UInt64(now.nanoseconds / 1_000_000) }

        init() {
            let ka = SigningKeyPair.generate().keyPair, kb = SigningKeyPair.generate().keyPair
            aID = ka.nodeID; bID = kb.nodeID
            a = try! Replicator(store: MemoryEventStore(), key: ka, settings: .lan, random: SeededRandom(seed: 1), now: .zero)
            b = try! Replicator(store: MemoryEventStore(), key: kb, settings: .lan, random: SeededRandom(seed: 2), now: .zero)
        }

        /// Delivers `effects` of `from` and everything they cause, to quiescence.
        mutating func deliver(_ effects: [ReplicationEffect], from: NodeID) {
            var queue = effects.compactMap { e -> (ReplicationMessage, NodeID, NodeID)? in
                if case let .send(m, to) = e { (m, from, to) } else { nil }
            }
            while !queue.isEmpty {
                let (m, src, dst) = queue.removeFirst()
                let out = dst == aID ? a.receive(m, from: src, now: now, wallMilliseconds: wall)
                    : b.receive(m, from: src, now: now, wallMilliseconds: wall)
                for e in out { if case let .send(m2, to) = e { queue.append((m2, dst, to)) } }
            }
        }

        mutating func run(for d: Duration) {
            let end = now + d
            while now < end {
                now = now + .milliseconds(10)
                deliver(a.tick(now: now), from: aID)
                deliver(b.tick(now: now), from: bID)
            }
        }

        mutating func appendA(_ kind: String) {
            let (_, e) = try! a.append(kind: kind, attributes: [:], wallMilliseconds: wall, now: now)
            deliver(e, from: aID)
        }
        mutating func appendB(_ kind: String) {
            let (_, e) = try! b.append(kind: kind, attributes: [:], wallMilliseconds: wall, now: now)
            deliver(e, from: bID)
        }
    }

    /// The second node pushes to the first before the first's membership lists it (the
    /// joiner learns of the mesh first): the first node's own new events must still reach
    /// the second along the tree, not only by anti-entropy seconds later.
    @Test func aJoinerThatPushesFirstStillGetsTheFirstNodesNewEventsAtOnce() {
        var p = Pair()
        p.a.setPeers([])
        p.a.assumeOwnHistoryComplete()
        p.appendA("agent.started")
        p.run(for: .seconds(1))
        // b joins: it knows a, a does not know b yet.
        p.b.setPeers([p.aID])
        p.b.assumeOwnHistoryComplete()
        p.appendB("agent.started")
        // A push round plus the per-link coalescing hold: by push, not anti-entropy.
        let push = ReplicationSettings.lan.pushInterval + ReplicationSettings.lan.maxPushHold
        p.run(for: push + .milliseconds(50))
        #expect(p.a.heldMarks[p.bID]?.high == EventSeq(1), "b's push reached a")
        p.a.setPeers([p.bID])
        p.run(for: .seconds(5))
        let before = p.b.heldMarks[p.aID]?.high.value ?? 0
        p.appendA("workload.started")
        p.run(for: push + .milliseconds(50))
        #expect(p.b.heldMarks[p.aID]?.high.value == before + 1, "a's new event reached b by push")
        p.run(for: .seconds(10))
        #expect(p.b.heldMarks[p.aID]?.high == p.a.heldMarks[p.aID]?.high, "and a's whole history by anti-entropy")
    }

    /// Events pushed ahead of a gap wait at the receiver; the sender must not count them as
    /// held there, or anti-entropy never sends the gap (until a full digest, rounds later).
    @Test func eventsPushedAheadOfAGapDoNotHideTheGapFromAntiEntropy() {
        var p = Pair()
        p.a.setPeers([])
        p.a.assumeOwnHistoryComplete()
        p.appendA("agent.started")      // pushed to nobody: a knows no member yet
        p.run(for: .milliseconds(100))
        p.a.setPeers([p.bID])
        p.b.setPeers([p.aID])
        p.b.assumeOwnHistoryComplete()
        p.run(for: .milliseconds(1500))  // full digests exchanged; event 1 is still too young to send
        #expect(p.b.heldMarks[p.aID] == nil)
        p.appendA("member.joined")
        p.appendA("member.updated")
        p.run(for: .milliseconds(200))
        #expect(p.b.heldMarks[p.aID] == nil, "2 and 3 wait at b behind the gap")
        #expect(p.b.holds(EventID(tag: EventID.tag(of: p.aID), seq: 3)))
        p.run(for: .seconds(4))
        #expect(p.b.heldMarks[p.aID]?.high == EventSeq(3), "anti-entropy sent 1, which released 2 and 3")
        #expect(p.a.metrics.digestsSent <= 2, "by incremental digests, not a later full one")
    }
}
