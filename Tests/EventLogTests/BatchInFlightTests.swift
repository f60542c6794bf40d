import MeshCore
@testable import EventLog
import MeshWire
import Testing

/// Batches on their way (`ReplicationSettings.batchInFlightHold`), message by message: a
/// digest that crossed a batch does not get the batch's events a second time.
struct BatchInFlightTests {
    /// P holds 40 events of its own and 40 of Q; X holds nothing. Batches are cut at
    /// 2,000 bytes (about 13 events), so one answer never carries everything.
    struct Setup {
        var p: Replicator<MemoryEventStore>
        let pID: NodeID, qID: NodeID, xID: NodeID
        var now = MeshTime(nanoseconds: 10_000_000_000)
        var wall: UInt64 { 1_700_000_000_000 + UInt64(now.nanoseconds / 1_000_000) }

        init() {
            var settings = ReplicationSettings.lan
            settings.maxBatchBytes = 2000
            let keys = (1 ... 3).map { SigningKeyPair(seed: [UInt8](repeating: UInt8($0 + 10), count: 32))! }
            pID = keys[0].nodeID; qID = keys[1].nodeID; xID = keys[2].nodeID
            func make(_ k: SigningKeyPair, _ seed: UInt64) -> Replicator<MemoryEventStore> {
                var r = try! Replicator(store: MemoryEventStore(), key: k, settings: settings, random: SeededRandom(seed: seed), now: .zero)
                r.assumeOwnHistoryComplete()
                r.setPeers(keys.map(\.nodeID))
                return r
            }
            p = make(keys[0], 1)
            var q = make(keys[1], 2)
            // Old enough for anti-entropy (`antiEntropyGrace`).
            var qEvents: [Event] = []
            for i in 0 ..< 40 {
                let wall = 1_700_000_000_000 + UInt64(i)
                _ = try! p.append(kind: "user.test", attributes: ["i": "\(i)"], wallMilliseconds: wall, now: .zero)
                qEvents.append(try! q.append(kind: "user.test", attributes: ["i": "\(i)"], wallMilliseconds: wall, now: .zero).0)
            }
            _ = p.receive(.batch(qEvents, more: false), from: qID, now: now, wallMilliseconds: wall)
        }

        /// X's full digest (holding `held` of each origin) reaches P; the batch P answers with.
        mutating func xDigests(holding held: [NodeID: UInt64] = [:], isReply: Bool) -> Answer? {
            let entries = held.keys.sorted().map { DigestEntry(origin: $0, marks: OriginMarks(low: EventSeq(1), high: EventSeq(held[$0]!))) }
            let out = p.receive(.digest(entries, isReply: isReply), from: xID, now: now, wallMilliseconds: wall)
            for case let .send(.batch(events, more), to) in out where to == xID { return Answer(events: events, more: more) }
            return nil
        }
    }

    struct Answer: Equatable {
        var events: [Event]
        var more: Bool
    }

    static func origins(_ events: [Event]) -> Set<NodeID> { Set(events.map(\.origin)) }

    @Test func aDigestThatCrossedABatchGetsOnlyWhatTheBatchDidNotCarry() throws {
        var t = Setup()
        let firstAnswer = t.xDigests(isReply: false)
        let first = try #require(firstAnswer)
        #expect(first.more)
        // 2,000 bytes: 14 of one origin's 40 events, and the first of the other's (a batch
        // takes at least one event of each origin it reaches).
        #expect(Self.origins(first.events).count == 2)
        // P's own digest went to X at the same moment; X's reply (still holding nothing)
        // crosses the batch: both origins are on their way, nothing is sent twice.
        t.now = t.now + .milliseconds(1)
        #expect(t.xDigests(isReply: true) == nil)
        #expect(t.p.metrics.batchOriginsInFlightSkipped == 2)
    }

    @Test func aDigestThatShowsTheBatchArrivedContinuesAfterIt() throws {
        var t = Setup()
        let firstAnswer = t.xDigests(isReply: false)
        let first = try #require(firstAnswer)
        // The batch carried all it could of one origin and the first event of the next
        // (a batch takes at least one event of each origin it reaches).
        let carried = Dictionary(grouping: first.events, by: \.origin).mapValues { $0.map(\.seq.value).max()! }
        #expect(carried.count == 2)
        t.now = t.now + .milliseconds(100)
        let nextAnswer = t.xDigests(holding: carried, isReply: false)
        let next = try #require(nextAnswer)
        for (o, high) in carried {
            let ofO = next.events.filter { $0.origin == o }
            if let firstOfO = ofO.first { #expect(firstOfO.seq.value == high + 1, "continues right after the first batch") }
        }
        #expect(!next.events.isEmpty)
        #expect(t.p.metrics.batchOriginsInFlightSkipped == 0)
    }

    @Test func aBatchLostOnTheWayIsSentAgainOnceTheHoldPassed() throws {
        var t = Setup()
        let firstAnswer = t.xDigests(isReply: false)
        let first = try #require(firstAnswer)
        t.now = t.now + t.p.settings.batchInFlightHold
        let againAnswer = t.xDigests(isReply: false)
        let again = try #require(againAnswer)
        #expect(again.events == first.events, "X still holds nothing: the first batch never arrived")
        #expect(t.p.metrics.batchOriginsInFlightSkipped == 0)
    }

    @Test func incrementalDigestsCrossingABatchAreAnsweredWithoutIt() throws {
        var t = Setup()
        let firstAnswer = t.xDigests(isReply: false)
        let first = try #require(firstAnswer)
        let o = first.events[0].origin
        #expect(t.p.tracked[t.xID]?.synced == true, "X's full digest taught P what X holds")
        // X's delta says it holds nothing of o yet: the batch is still on its way.
        t.now = t.now + .milliseconds(1)
        let out = t.p.receive(.delta([DeltaEntry(origin: o, high: .zero)], isReply: false), from: t.xID, now: t.now, wallMilliseconds: t.wall)
        for case let .send(.batch(events, _), to) in out where to == t.xID {
            #expect(!Self.origins(events).contains(o))
        }
    }
}
