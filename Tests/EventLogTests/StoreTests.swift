import Foundation
import MeshCore
@testable import EventLog
import MeshWire
import Testing
@testable import Storage

func tempDB() -> String { NSTemporaryDirectory() + "meshd-events-\(UUID().uuidString).db" }

struct Author {
    let key = SigningKeyPair.generate().keyPair
    var seq: UInt64 = 0
    var clock = HybridClock()
    mutating func next(_ kind: String = "user.test", at ms: UInt64 = 1_700_000_000_000, _ attrs: [String: String] = [:]) -> Event {
        seq += 1
        return try! Event(signing: key, seq: EventSeq(seq), time: clock.tick(wallMilliseconds: ms), kind: kind, attributes: attrs)
    }
}

/// The same contract, checked on both stores.
@Suite struct StoreTests {
    static func stores() -> [any EventStore] { [MemoryEventStore(), try! SQLiteEventStore(path: tempDB())] }

    @Test(arguments: [0, 1]) func appendContinuesSequencesAndRefusesGaps(which: Int) throws {
        var store = Self.stores()[which]
        var a = Author()
        let e1 = a.next(), e2 = a.next(), e3 = a.next()
        try store.append([e1, e2], receivedAtMilliseconds: 1)
        #expect(throws: EventError.self) { try store.append([e3, e3], receivedAtMilliseconds: 1) }
        // The failed batch left nothing behind: e3 alone still fits.
        try store.append([e3], receivedAtMilliseconds: 1)
        #expect(try store.marks()[a.key.nodeID] == OriginMarks(low: EventSeq(1), high: EventSeq(3)))
        #expect(try store.events(origin: a.key.nodeID, after: EventSeq(1), limit: 10, maxBytes: 1 << 20) == [e2, e3])
        var skip = Author()
        _ = skip.next()
        let gap = skip.next()
        try store.append([gap], receivedAtMilliseconds: 1)   // a new origin may start anywhere (after pruning)
        #expect(throws: EventError.self) { try store.append([skip.next(), skip.next()].suffix(1), receivedAtMilliseconds: 1) }
    }

    @Test(arguments: [0, 1]) func queryFiltersBySinceKindAndOrigin(which: Int) throws {
        var store = Self.stores()[which]
        var a = Author(), b = Author()
        let events = [a.next("workload.started", at: 1000), b.next("member.dead", at: 2000),
                      a.next("workload.exited", at: 3000, ["code": "3"]), b.next("workload", at: 4000)]
        for e in events { try store.append([e], receivedAtMilliseconds: 1) }
        #expect(try store.query(EventQuery(kindPrefix: "workload.")).map(\.kind) == ["workload.started", "workload.exited"])
        #expect(try store.query(EventQuery(sinceMilliseconds: 2500)).count == 2)
        #expect(try store.query(EventQuery(sinceMilliseconds: 2000, kindPrefix: "workload.")).map(\.kind) == ["workload.exited"])
        #expect(try store.query(EventQuery(origin: b.key.nodeID)).map(\.kind) == ["member.dead", "workload"])
        let loaded = try store.query(EventQuery(kindPrefix: "workload.exited"))[0]
        #expect(loaded == events[2])
        try loaded.verify()
    }

    @Test(arguments: [0, 1]) func pruneKeepsTheNewestAndRaisesTheLowMark(which: Int) throws {
        var store = Self.stores()[which]
        var a = Author()
        let events = (1 ... 10).map { a.next(at: UInt64($0) * 1000) }
        try store.append(events, receivedAtMilliseconds: 1)
        #expect(try store.prune(olderThanMilliseconds: 4000, maxBytesPerOrigin: nil) == 3)
        #expect(try store.marks()[a.key.nodeID] == OriginMarks(low: EventSeq(4), high: EventSeq(10)))
        let size = events[0].encodedSize
        _ = try store.prune(olderThanMilliseconds: nil, maxBytesPerOrigin: size * 2)
        #expect(try store.marks()[a.key.nodeID] == OriginMarks(low: EventSeq(9), high: EventSeq(10)))
        _ = try store.prune(olderThanMilliseconds: UInt64.max >> 17, maxBytesPerOrigin: nil)
        #expect(try store.marks()[a.key.nodeID] == OriginMarks(low: EventSeq(10), high: EventSeq(10)))
        try store.append([a.next()], receivedAtMilliseconds: 1)
    }

    @Test func sqliteSurvivesReopenAndRecordsItsSchemaVersion() throws {
        let path = tempDB()
        var a = Author()
        let e = a.next("user.deploy", ["who": "ana"])
        do {
            let store = try SQLiteEventStore(path: path)
            try store.append([e], receivedAtMilliseconds: 5)
        }
        let reopened = try SQLiteEventStore(path: path)
        #expect(try reopened.schemaVersion() == SQLiteEventStore.migrations.last!.0)
        #expect(try reopened.query(EventQuery()) == [e])
    }

    @Test func alteredEventsFailVerification() throws {
        var a = Author()
        let e = a.next("user.deploy", ["who": "ana"])
        try e.verify()
        let altered = Event(origin: e.origin, seq: e.seq, time: e.time, kind: e.kind, attributes: ["who": "eve"], signature: e.signature)
        #expect(throws: EventError.badSignature(origin: e.origin, seq: e.seq)) { try altered.verify() }
        #expect(throws: EventError.self) { try Event(signing: a.key, seq: EventSeq(9), time: e.time, kind: "Bad Kind", attributes: [:]) }
        #expect(throws: EventError.self) {
            try Event(signing: a.key, seq: EventSeq(9), time: e.time, kind: "x", attributes: ["v": String(repeating: "x", count: 1000)])
        }
    }

    @Test func encodedSizeMatchesTheEncoder() {
        var a = Author()
        for attrs in [[:], ["who": "ana"], ["a": "1", "bb": "22", "ccc": String(repeating: "é", count: 40)]] {
            let e = a.next("workload.exited", attrs)
            var w = ByteWriter(); e.encode(into: &w)
            #expect(e.encodedSize == w.count)
        }
    }

    @Test func hybridClockNeverGoesBackwards() {
        var c = HybridClock()
        let t1 = c.tick(wallMilliseconds: 1000)
        let t2 = c.tick(wallMilliseconds: 900)       // wall clock stepped back
        #expect(t2 > t1)
        c.observe(HybridTimestamp(milliseconds: 5000, logical: 3), wallMilliseconds: 1000)
        let t3 = c.tick(wallMilliseconds: 1001)
        #expect(t3 > HybridTimestamp(milliseconds: 5000, logical: 3))
    }
}
