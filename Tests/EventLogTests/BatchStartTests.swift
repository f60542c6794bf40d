import MeshCore
@testable import EventLog
import MeshWire
import Testing

/// Where a batch may start an origin on the receiver, message by message: at seq 1, after
/// what the receiver holds, or at the sender's low-water mark as its full digest stated it;
/// never merely where the sender believes the receiver to be (chaos seed 10, issue 21).
struct BatchStartTests {
    /// P holds 40 old events of its own; R, just started (or wiped), holds nothing. Batches
    /// are cut at 2,000 bytes (about 13 events), so one answer never carries everything.
    struct Setup {
        var p: Replicator<MemoryEventStore>
        var r: Replicator<MemoryEventStore>
        let pID: NodeID, rID: NodeID
        var now = MeshTime(nanoseconds: 10_000_000_000)
        var wall: UInt64 { 1_700_000_000_000 + UInt64(now.nanoseconds / 1_000_000) }

        init() {
            var settings = ReplicationSettings.lan
            settings.maxBatchBytes = 2000
            let keys = (1 ... 2).map { SigningKeyPair(seed: [UInt8](repeating: UInt8($0 + 20), count: 32))! }
            pID = keys[0].nodeID; rID = keys[1].nodeID
            func make(_ k: SigningKeyPair, _ seed: UInt64) -> Replicator<MemoryEventStore> {
                var x = try! Replicator(store: MemoryEventStore(), key: k, settings: settings, random: SeededRandom(seed: seed), now: .zero)
                x.assumeOwnHistoryComplete()
                x.setPeers(keys.map(\.nodeID))
                return x
            }
            p = make(keys[0], 1)
            r = make(keys[1], 2)
            // Old enough for anti-entropy (`antiEntropyGrace`).
            for i in 0 ..< 40 {
                _ = try! p.append(kind: "user.test", attributes: ["i": "\(i)"], wallMilliseconds: 1_700_000_000_000 + UInt64(i), now: .zero)
            }
        }

        /// What P sends R in answer to `message` from R: its batch (if any) and its digest.
        mutating func pAnswers(_ message: ReplicationMessage) -> (batch: [Event]?, digest: [DigestEntry]?) {
            var batch: [Event]?, digest: [DigestEntry]?
            for case let .send(m, to) in p.receive(message, from: rID, now: now, wallMilliseconds: wall) where to == rID {
                if case let .batch(events, _) = m { batch = events }
                if case let .digest(entries, _) = m { digest = entries }
            }
            return (batch, digest)
        }

        mutating func rReceives(_ message: ReplicationMessage) {
            _ = r.receive(message, from: pID, now: now, wallMilliseconds: wall)
        }
    }

    /// R's full digest gets a first batch B1 (a stream frame) and P's digest (a datagram,
    /// there first); R's next round, an incremental digest, gets B2, which continues B1
    /// (P counts B1 as held by R) and, a datagram, overtakes it. Taken as P's low-water
    /// mark, B2 started P's origin at 14 on R, and B1 then came as duplicates: R never held
    /// events 1-13, and no digest showed it a gap (the new h3 of chaos seed 10, which
    /// lacked the first events of two origins for good). Held ahead of the gap, B2 waits
    /// for B1.
    @Test func aBatchThatOvertookTheOneBeforeItWaitsForIt() throws {
        var t = Setup()
        let first = t.pAnswers(.digest([], isReply: false))
        let b1 = try #require(first.batch)
        let pDigest = try #require(first.digest)
        #expect(b1.first?.seq == EventSeq(1) && b1.count < 40)
        #expect(pDigest.first { $0.origin == t.pID }?.marks.low == EventSeq(1))

        t.now = t.now + .milliseconds(1)
        t.rReceives(.digest(pDigest, isReply: true))
        t.now = t.now + .milliseconds(1)
        let second = t.pAnswers(.delta([], isReply: false))
        let b2 = try #require(second.batch)
        #expect(b2.first?.seq == b1.last!.seq.next, "B2 continues B1, which P counts as R's")

        t.rReceives(.batch(b2, more: true))
        #expect(t.r.heldMarks[t.pID] == nil, "nothing of P stored past the gap")
        t.rReceives(.batch(b1, more: true))
        #expect(t.r.heldMarks[t.pID] == OriginMarks(low: EventSeq(1), high: b2.last!.seq))
        #expect(t.r.store.events(origin: t.pID, after: .zero, limit: .max, maxBytes: .max).map(\.seq.value)
            == Array(1 ... b2.last!.seq.value))
    }

    /// The same continuation, with B1 lost instead of late: R names the gap in its next
    /// incremental digest (an origin held ahead of a gap is always in it), and P sends the
    /// gap again once B1 no longer counts as on its way.
    @Test func aBatchPastALostOneIsHeldAndTheGapIsAskedFor() throws {
        var t = Setup()
        let first = t.pAnswers(.digest([], isReply: false))
        _ = try #require(first.batch)   // lost
        t.now = t.now + .milliseconds(1)
        t.rReceives(.digest(try #require(first.digest), isReply: true))
        t.now = t.now + .milliseconds(1)
        let b2 = try #require(t.pAnswers(.delta([], isReply: false)).batch)
        t.rReceives(.batch(b2, more: true))
        #expect(t.r.heldMarks[t.pID] == nil)

        t.now = t.now + t.p.settings.batchInFlightHold
        t.r.sendDelta(to: t.pID, isReply: false, now: t.now)
        let sent = t.r.flush()
        guard case let .send(.delta(entries, _), to)? = sent.first else {
            Issue.record("R sent no incremental digest: \(sent)")
            return
        }
        #expect(to == t.pID && entries.contains(DeltaEntry(origin: t.pID, high: .zero)), "\(entries)")
        let refill = try #require(t.pAnswers(.delta(entries, isReply: false)).batch)
        #expect(refill.first?.seq == EventSeq(1))
        t.rReceives(.batch(refill, more: true))
        #expect(t.r.heldMarks[t.pID]?.low == EventSeq(1))
        #expect(t.r.heldMarks[t.pID]!.high >= b2.last!.seq, "the held continuation joined once the gap closed")
    }

    /// A batch that starts at the low-water mark P's full digest stated (P pruned what came
    /// before) starts the origin there on R, as retention requires.
    @Test func aBatchFromTheSendersStatedLowWaterMarkStartsTheOriginThere() throws {
        var t = Setup()
        let size = t.p.store.events(origin: t.pID, after: .zero, limit: 1, maxBytes: .max)[0].encodedSize
        _ = try t.p.prune(olderThanMilliseconds: nil, maxBytesPerOrigin: size * 10)
        let answer = t.pAnswers(.digest([], isReply: false))
        let batch = try #require(answer.batch)
        let pDigest = try #require(answer.digest)
        let low = try #require(pDigest.first { $0.origin == t.pID }?.marks.low)
        #expect(low.value > 20 && batch.first?.seq == low, "P kept its newest events only, and answers from its low")
        // Before P's digest, R cannot tell a low-water mark from a continuation: held.
        t.rReceives(.batch(batch, more: false))
        #expect(t.r.heldMarks[t.pID] == nil)
        t.rReceives(.digest(pDigest, isReply: true))
        t.rReceives(.batch(batch, more: false))
        #expect(t.r.heldMarks[t.pID] == OriginMarks(low: low, high: EventSeq(40)))
    }
}

/// A store whose disk can be made full: every write throws while `disk.full`.
struct FillableStore: EventStore {
    final class Disk { var full = false }
    let disk = Disk()
    var inner = MemoryEventStore()

    func marks() -> [NodeID: OriginMarks] { inner.marks() }
    mutating func append(_ events: [Event], receivedAtMilliseconds: UInt64) throws(EventError) {
        if disk.full { throw .storage("test disk: full") }
        try inner.append(events, receivedAtMilliseconds: receivedAtMilliseconds)
    }
    func events(origin: NodeID, after seq: EventSeq, limit: Int, maxBytes: Int) -> [Event] {
        inner.events(origin: origin, after: seq, limit: limit, maxBytes: maxBytes)
    }
    func query(_ query: EventQuery) -> [Event] { inner.query(query) }
    mutating func prune(olderThanMilliseconds: UInt64?, maxBytesPerOrigin: Int?) throws(EventError) -> Int {
        if disk.full { throw .storage("test disk: full") }
        return inner.prune(olderThanMilliseconds: olderThanMilliseconds, maxBytesPerOrigin: maxBytesPerOrigin)
    }
    mutating func forget(origin: NodeID) throws(EventError) {
        if disk.full { throw .storage("test disk: full") }
        inner.forget(origin: origin)
    }
}

extension BatchStartTests {
    /// R holds events 1-5 of an origin whose every copy elsewhere starts at 20 (P's digest
    /// says so); P's batch from 20 makes R forget 1-5 and start again at 20. On a full disk
    /// the forget fails: the batch is refused and R's marks stay what its store holds. (They
    /// were reset regardless: the store kept 1-5, every later event of the origin was refused
    /// as out of order, and the first one the store took again, continuing 5, was taken for
    /// a new low-water mark, which R's digests advertised to a wiped node: chaos seed 10.)
    @Test func aJumpWhoseForgetFailsOnAFullDiskLeavesTheMarksAsTheStoreHoldsThem() throws {
        var author = Author()
        let events = (1 ... 30).map { _ in author.next() }
        let a = author.key.nodeID
        let pID = SigningKeyPair(seed: [UInt8](repeating: 31, count: 32))!.nodeID
        let store = FillableStore()
        var r = try Replicator(store: store, key: nil, settings: .lan, random: SeededRandom(seed: 3), now: .zero)
        let wall: UInt64 = 1_700_000_010_000
        _ = r.receive(.push(Array(events[0 ..< 5])), from: pID, now: .zero, wallMilliseconds: wall)
        _ = r.receive(.digest([DigestEntry(origin: a, marks: OriginMarks(low: EventSeq(20), high: EventSeq(30)))], isReply: true),
                      from: pID, now: .zero, wallMilliseconds: wall)
        #expect(r.heldMarks[a] == OriginMarks(low: EventSeq(1), high: EventSeq(5)))

        store.disk.full = true
        let refused = r.receive(.batch(Array(events[19...]), more: false), from: pID, now: .zero, wallMilliseconds: wall)
        #expect(refused.contains { if case .rejected(_, EventSeq(20), _) = $0 { true } else { false } }, "\(refused)")
        #expect(r.heldMarks[a] == OriginMarks(low: EventSeq(1), high: EventSeq(5)))
        #expect(r.heldMarks[a] == r.store.marks()[a])

        store.disk.full = false
        _ = r.receive(.batch(Array(events[19...]), more: false), from: pID, now: .zero, wallMilliseconds: wall)
        #expect(r.heldMarks[a] == OriginMarks(low: EventSeq(20), high: EventSeq(30)))
        #expect(r.heldMarks[a] == r.store.marks()[a])
    }
}
