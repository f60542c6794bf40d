import MeshCore
@testable import EventLog
import MeshWire
import Testing

/// A small in-test network of replicators on virtual time.
struct Mesh {
    var nodes: [Replicator<MemoryEventStore>] = []
    var keys: [SigningKeyPair] = []
    var down: Set<Int> = []
    var cut: Set<Int> = []          // one side of a partition
    var dropPushes = false
    var now = MeshTime.zero
    var inflight: [(at: MeshTime, order: Int, to: Int, from: Int, message: ReplicationMessage)] = []
    var order = 0
    var sentBytes = 0

    init(size: Int, settings: ReplicationSettings = .lan) {
        for i in 0 ..< size {
            let key = SigningKeyPair(seed: [UInt8](repeating: UInt8(i + 1), count: 32))!
            keys.append(key)
            var r = try! Replicator(store: MemoryEventStore(), key: key, settings: settings, random: SeededRandom(seed: UInt64(i)), now: .zero)
            r.assumeOwnHistoryComplete()
            nodes.append(r)
        }
        refreshPeers()
    }

    mutating func refreshPeers() {
        for i in nodes.indices { nodes[i].setPeers(keys.map(\.nodeID)) }
    }

    func index(_ id: NodeID) -> Int { keys.firstIndex { $0.nodeID == id }! }
    var wall: UInt64 { 1_700_000_000_000 + UInt64(now.nanoseconds / 1_000_000) }

    mutating func run(_ i: Int, _ effects: [ReplicationEffect]) {
        for case let .send(m, to) in effects {
            let j = index(to)
            if case .push = m, dropPushes { continue }
            if cut.contains(i) != cut.contains(j) { continue }
            sentBytes += m.encoded.count
            order += 1
            inflight.append((now + .milliseconds(2), order, j, i, m))
        }
    }

    @discardableResult
    mutating func append(_ i: Int, _ kind: String = "user.test") -> Event {
        let (e, effects) = try! nodes[i].append(kind: kind, attributes: ["n": "\(i)"], wallMilliseconds: wall, now: now)
        run(i, effects)
        return e
    }

    mutating func advance(by d: Duration) {
        let end = now + d
        while true {
            let msg = inflight.min { ($0.at, $0.order) < ($1.at, $1.order) }
            let wake = nodes.indices.filter { !down.contains($0) }.map { (nodes[$0].nextWakeup, $0) }.min { $0 < $1 }
            let t = min(msg?.at ?? MeshTime(nanoseconds: .max), wake?.0 ?? MeshTime(nanoseconds: .max))
            guard t <= end else { now = end; return }
            now = max(now, t)
            if let m = msg, m.at <= (wake?.0 ?? MeshTime(nanoseconds: .max)) {
                inflight.removeAll { $0.order == m.order }
                guard !down.contains(m.to) else { continue }
                let effects = nodes[m.to].receive(m.message, from: keys[m.from].nodeID, now: now, wallMilliseconds: wall)
                run(m.to, effects)
            } else if let (_, i) = wake {
                run(i, nodes[i].tick(now: now))
            }
        }
    }

    func digest(_ i: Int) -> [NodeID: OriginMarks] { nodes[i].heldMarks }
    func all(_ i: Int) -> [Event] { nodes[i].store.query(EventQuery(limit: .max)) }
}

struct ReplicatorTests {
    @Test func newEventsReachEveryNodeByPush() {
        var m = Mesh(size: 5)
        let e = m.append(0, "user.deploy")
        // Three hops of a thin tree, each a push round plus the coalescing hold; well
        // before anti-entropy's grace lets a batch carry it.
        let hop = ReplicationSettings.lan.pushInterval + ReplicationSettings.lan.maxPushHold
        m.advance(by: hop * 3)
        for i in 1 ..< 5 { #expect(m.all(i).contains(e), "node \(i)") }
    }

    @Test func antiEntropyAloneConverges() {
        var m = Mesh(size: 6)
        m.dropPushes = true
        for i in 0 ..< 6 { for _ in 0 ..< 3 { m.append(i) } }
        m.advance(by: .seconds(15))
        for i in 1 ..< 6 { #expect(m.digest(i) == m.digest(0), "node \(i)") }
        #expect(m.all(3).count == 18)
    }

    @Test func bothSidesOfAPartitionKeepLoggingAndConvergeAfterTheHeal() {
        var m = Mesh(size: 6)
        m.cut = [0, 1, 2]
        for _ in 0 ..< 20 { m.append(0); m.append(4); m.advance(by: .milliseconds(100)) }
        #expect(m.digest(1) != m.digest(5))
        m.cut = []
        m.advance(by: .seconds(10))
        for i in 1 ..< 6 { #expect(m.digest(i) == m.digest(0), "node \(i): \(m.all(i).count) events") }
        #expect(m.all(0).count == 40)
        #expect(m.all(5) == m.all(0))
    }

    @Test func forgedAlteredDuplicatedAndOutOfOrderEvents() {
        var m = Mesh(size: 2)
        var author = Author()
        let e1 = author.next(), e2 = author.next(), e3 = author.next()
        let altered = Event(origin: e2.origin, seq: e2.seq, time: e2.time, kind: "user.evil", attributes: [:], signature: e2.signature)
        // e3 before e2 (held), an altered e2 (rejected), then the real e2 (stores e2 and e3), and e1 twice.
        var effects = m.nodes[1].receive(.push([e1, e3, altered]), from: m.keys[0].nodeID, now: .zero, wallMilliseconds: 1)
        #expect(effects.contains { if case .rejected(_, let seq, .badSignature) = $0 { seq == e2.seq } else { false } })
        #expect(m.nodes[1].heldMarks[e1.origin]?.high == e1.seq)
        effects = m.nodes[1].receive(.push([e1, e2]), from: m.keys[0].nodeID, now: .zero, wallMilliseconds: 1)
        #expect(effects.contains(.stored([e2, e3])))
        #expect(m.nodes[1].metrics.duplicates == 1 && m.nodes[1].metrics.rejected == 1)
        #expect(m.nodes[1].store.query(EventQuery()) == [e1, e2, e3])
    }

    /// Forged (signed by another key) and oversized (signed, but past the limits) events
    /// are refused and counted; the good ones in the same push are stored.
    @Test func forgedAndOversizedEventsAreRefusedWithoutLosingTheGoodOnes() throws {
        var m = Mesh(size: 2)
        var a = Author()
        let other = Author()
        let e1 = a.next(), e2 = a.next()
        let forgedBytes = Event.signedBytes(origin: e2.origin, seq: e2.seq, time: e2.time, kind: "user.evil", attributes: [:])
        let forged = Event(origin: e2.origin, seq: e2.seq, time: e2.time, kind: "user.evil", attributes: [:],
                           signature: other.key.sign(forgedBytes))
        let big = ["v": String(repeating: "x", count: EventLimits.maxAttributeBytes + 1)]
        let oversized = Event(origin: other.key.nodeID, seq: EventSeq(1), time: e1.time, kind: "user.big", attributes: big,
                              signature: other.key.sign(Event.signedBytes(origin: other.key.nodeID, seq: EventSeq(1), time: e1.time,
                                                                          kind: "user.big", attributes: big)))
        let effects = m.nodes[1].receive(.push([e1, forged, oversized, e2]), from: m.keys[0].nodeID, now: .zero, wallMilliseconds: 1)
        #expect(effects.contains { if case .rejected(_, _, .badSignature) = $0 { true } else { false } })
        #expect(effects.contains { if case .rejected(_, _, .tooLarge) = $0 { true } else { false } })
        #expect(m.nodes[1].metrics.rejected == 2)
        #expect(m.nodes[1].store.query(EventQuery()) == [e1, e2])
        #expect(m.nodes[1].heldMarks[other.key.nodeID] == nil)
        // A kind longer than the limit does not even decode.
        var w = ByteWriter()
        w.writeList([e1]) { w, e in
            w.write(e.origin); w.write(e.seq.value); w.write(e.time.raw)
            w.write(String(repeating: "k", count: EventLimits.maxKindBytes + 1)); w.write(e.attributes); w.writeRaw(e.signature)
        }
        #expect(throws: WireError.self) { try ReplicationMessage.decode(kind: .eventPush, body: w.bytes) }
    }

    /// Found by the event-log simulator: a node that misses one pushed event must still
    /// relay the origin's later ones it holds ahead of the gap, and must not relay them a
    /// second time when the gap closes.
    @Test func eventsHeldAheadOfAGapAreRelayedOnce() {
        var m = Mesh(size: 3, settings: BroadcastTreeTests.everyRound)
        var a = Author()
        let e1 = a.next(), e2 = a.next(), e3 = a.next()
        func pushed(_ effects: [ReplicationEffect]) -> [[Event]] {
            effects.compactMap { if case let .send(.push(events), _) = $0 { events } else { nil } }
        }
        _ = m.nodes[1].receive(.push([e1, e3]), from: m.keys[0].nodeID, now: .zero, wallMilliseconds: 1)
        #expect(m.nodes[1].heldMarks[e1.origin]?.high == e1.seq)
        let first = pushed(m.nodes[1].tick(now: .zero))
        #expect(!first.isEmpty && first.allSatisfy { $0 == [e1, e3] })
        _ = m.nodes[1].receive(.push([e2, e3]), from: m.keys[0].nodeID, now: .zero + .milliseconds(60), wallMilliseconds: 1)
        #expect(m.nodes[1].heldMarks[e1.origin]?.high == e3.seq)
        let second = pushed(m.nodes[1].tick(now: .zero + .milliseconds(60)))
        #expect(!second.isEmpty && second.allSatisfy { $0 == [e2] })
    }

    @Test func aNodeBackFromAnHourAwayCatchesUpInBoundedBatches() {
        var settings = ReplicationSettings.lan
        settings.maxBatchBytes = 16 * 1024
        var m = Mesh(size: 3, settings: settings)
        m.down = [2]
        for _ in 0 ..< 1000 { m.append(0) }
        m.advance(by: .seconds(2))
        m.down = []
        m.inflight.removeAll()
        m.advance(by: .seconds(5))
        #expect(m.digest(2) == m.digest(0))
        #expect(m.nodes[0].metrics.batchesSent + m.nodes[1].metrics.batchesSent > 5)   // more than one bounded batch
    }

    @Test func aNodeRestartedWithAnEmptyDiskRefillsItsOwnHistoryBeforeAppending() throws {
        var m = Mesh(size: 3)
        for _ in 0 ..< 5 { m.append(2) }
        m.advance(by: .seconds(2))
        var fresh = try Replicator(store: MemoryEventStore(), key: m.keys[2], settings: .lan, random: SeededRandom(seed: 9), now: m.now)
        fresh.setPeers(m.keys.map(\.nodeID))
        m.nodes[2] = fresh
        #expect(throws: EventError.self) { try m.nodes[2].append(kind: "user.x", attributes: [:], wallMilliseconds: m.wall, now: m.now) }
        m.advance(by: .seconds(5))
        #expect(m.digest(2) == m.digest(0))
        let e = m.append(2)
        #expect(e.seq == EventSeq(6))
    }

    @Test func aNodeBehindEveryonesLowWaterMarkResumesFromIt() throws {
        var m = Mesh(size: 2)
        m.dropPushes = true
        m.down = [1]
        for _ in 0 ..< 50 { m.append(0) }
        m.down = []
        m.inflight.removeAll()
        // Node 1 saw only the first event before node 0 pruned everything but the newest 10.
        _ = m.nodes[1].receive(.push([m.all(0)[0]]), from: m.keys[0].nodeID, now: m.now, wallMilliseconds: m.wall)
        let size = m.all(0)[0].encodedSize
        _ = try m.nodes[0].prune(olderThanMilliseconds: nil, maxBytesPerOrigin: size * 10)
        m.advance(by: .seconds(5))
        #expect(m.digest(1)[m.keys[0].nodeID] == OriginMarks(low: EventSeq(41), high: EventSeq(50)))
    }

    @Test func messagesRoundTrip() throws {
        var a = Author()
        let events = [a.next(), a.next("user.deploy", ["who": "ana"])]
        let samples: [ReplicationMessage] = [
            .push(events), .batch(events, more: true),
            .digest([DigestEntry(origin: a.key.nodeID, marks: OriginMarks(low: EventSeq(3), high: EventSeq(9)))], isReply: true),
            .ihave([EventID(events[0]), EventID(tag: 7, seq: 9), EventID(tag: .max, seq: 300), EventID(tag: 1, seq: .max)]),
            .graft([EventID(events[1])]), .graft([]), .prune([7, 9]),
            .delta([DeltaEntry(origin: a.key.nodeID, high: EventSeq(4))], isReply: false),
        ]
        for s in samples {
            #expect(try ReplicationMessage.decode(kind: s.kind, body: s.encoded) == s)
            #expect(s.encoded.count == s.encodedSize, "\(s.kind)")
        }
    }

    /// An id costs 4 bytes of origin tag and a varint seq: 5 bytes below seq 128.
    @Test func announcedIDsAreCompact() {
        #expect(ReplicationMessage.ihave([EventID(tag: 1, seq: 127)]).encoded.count == 4 + 5)
        #expect(ReplicationMessage.ihave([EventID(tag: 1, seq: 128)]).encoded.count == 4 + 6)
        #expect(ReplicationMessage.ihave([EventID(tag: 1, seq: .max)]).encoded.count == 4 + 14)
        // A varint of 11 bytes, or one past 64 bits, is refused.
        let long: [UInt8] = [0, 0, 0, 1, 0, 0, 0, 1] + [UInt8](repeating: 0x80, count: 10) + [1]
        #expect(throws: WireError.self) { try ReplicationMessage.decode(kind: .eventIHave, body: long) }
        let wide: [UInt8] = [0, 0, 0, 1, 0, 0, 0, 1] + [UInt8](repeating: 0xff, count: 9) + [0x02]
        #expect(throws: WireError.self) { try ReplicationMessage.decode(kind: .eventIHave, body: wide) }
    }
}
