import EventLog
import Foundation
import MeshCore
@testable import MeshSimulation
import MeshWire
import Testing

/// Small versions of the event-log scenarios (ten-odd nodes, a minute of virtual time), with
/// signature verification on in every core: seconds of wall time in a debug build.
struct EventLogSimulationTests {
    static func scenario(_ name: String, nodes: Int = 12, duration: Duration = .seconds(40), settle: Duration = .seconds(15),
                         timeline: [EventLogAction] = [], expectations: [EventLogBound] = []) -> EventLogScenario {
        EventLogScenario(name: name, nodes: nodes, seed: 3, duration: duration, settle: settle, verifySignatures: true,
                         timeline: timeline, expectations: expectations)
    }

    static func run(_ s: EventLogScenario, seed: UInt64? = nil) throws -> EventLogReport {
        var sim = try EventLogSimulation(scenario: s, seed: seed)
        return sim.run()
    }

    @Test func floodReachesEveryNodeWithEqualDigests() throws {
        let r = try Self.run(Self.scenario("flood"))
        #expect(r.passed, "\(r.text(wallSeconds: nil))")
        #expect(r.events == 12 * 40)
        #expect(r.distinctDigests == 1)
        #expect(r.latencies.count == r.events, "every event reached every node with no fault active")
        #expect((r.percentile(0.5) ?? 99) < (r.percentile(1) ?? 0) + 1e-9)
        #expect(r.metrics.rawEventBytesDelivered > 0 && r.bytesRatio! > 1)
    }

    /// `measure after`: the latency samples are the later appends only, and the bytes are
    /// those sent and delivered later.
    @Test func measuringAfterAWarmUpLeavesOutTheStart() throws {
        let text = "name w\nengine eventlog\nnodes 8\nappend 1s\nduration 20s\nsettle 10s\n"
        let all = try Self.run(EventLogScenario(parsing: text))
        let later = try Self.run(EventLogScenario(parsing: text + "measure after 12s\n"))
        #expect(all.latencies.count == 8 * 20)
        #expect(later.latencies.count == 8 * 8, "the appends at 12 s and later: one per node per second")
        #expect(later.metrics.rawEventBytesDelivered > 0 && later.metrics.rawEventBytesDelivered < all.metrics.rawEventBytesDelivered)
        #expect(later.metrics.replicationBytes < all.metrics.replicationBytes)
        #expect(throws: ScenarioError.self) { try EventLogScenario(parsing: text + "measure after 20s\n") }
        #expect(throws: ScenarioError.self) { try EventLogScenario(parsing: text + "measure 5s\n") }
    }

    @Test func bothSidesOfAPartitionConvergeAfterTheHeal() throws {
        let s = Self.scenario("partition", timeline: [
            EventLogAction(at: .seconds(5), kind: .partition(percent: 50)),
            EventLogAction(at: .seconds(30), kind: .heal),
        ], expectations: [EventLogBound(metric: .convergenceSeconds, comparison: .lessOrEqual, value: 30)])
        let r = try Self.run(s)
        #expect(r.passed, "\(r.text(wallSeconds: nil))")
        #expect(r.convergenceSeconds != nil)
        #expect(r.distinctDigests == 1)
        #expect(r.unmeasured > 0, "events appended during the partition are not latency samples")
    }

    @Test func returningNodesCatchUpAndAnEmptyDiskRefills() throws {
        let s = Self.scenario("return", nodes: 8, duration: .seconds(80), timeline: [
            EventLogAction(at: .seconds(5), kind: .crash(node: 1)),
            EventLogAction(at: .seconds(5), kind: .crash(node: 2)),
            EventLogAction(at: .seconds(65), kind: .restart(node: 1, empty: false)),
            EventLogAction(at: .seconds(65), kind: .restart(node: 2, empty: true)),
        ], expectations: [EventLogBound(metric: .catchUpSeconds, comparison: .lessOrEqual, value: 10)])
        var sim = try EventLogSimulation(scenario: s)
        let r = sim.run()
        #expect(r.passed, "\(r.text(wallSeconds: nil))")
        #expect(r.metrics.watches.filter(\.2).count == 2)
        // The empty node appended again after the return, continuing its own sequence.
        let node2 = sim.table.origin(sim.ids[2])!
        #expect(sim.table.count(origin: node2) >= 5 + 14, "5 before the crash, about 15 after the return")
        #expect(sim.store(of: 2).high[node2] == UInt64(sim.table.count(origin: node2)))
    }

    @Test func sameSeedGivesIdenticalReports() throws {
        let s = Self.scenario("determinism", nodes: 8, duration: .seconds(20), timeline: [
            EventLogAction(at: .seconds(3), kind: .partition(percent: 25)),
            EventLogAction(at: .seconds(10), kind: .heal),
        ])
        let a = try Self.run(s, seed: 9).text(wallSeconds: nil)
        let b = try Self.run(s, seed: 9).text(wallSeconds: nil)
        let c = try Self.run(s, seed: 10).text(wallSeconds: nil)
        #expect(a == b)
        #expect(a != c)
    }

    /// The body check that stands in for signatures in big runs refuses an altered relay
    /// copy and a gap, so `no_event_altered` and `no_rejection` can fail.
    @Test func internedStoreRefusesAlteredBodiesAndGaps() throws {
        let key = SigningKeyPair(seed: [UInt8](repeating: 7, count: 32))!
        let table = EventTable(ids: [key.nodeID])
        let clock = VirtualNow()
        var origin = InternedEventStore(table: table, clock: clock)
        var relay = InternedEventStore(table: table, clock: clock)
        var hlc = HybridClock()
        let events = try (1 ... 3).map { n in
            try Event(signing: key, seq: EventSeq(UInt64(n)), time: hlc.tick(wallMilliseconds: 1000), kind: "user.test", attributes: ["n": "\(n)"])
        }
        try origin.append(events, receivedAtMilliseconds: 0)
        let e = events[0]
        let altered = Event(origin: e.origin, seq: e.seq, time: e.time, kind: e.kind, attributes: ["n": "9"], signature: e.signature)
        #expect(throws: EventError.self) { try relay.append([altered], receivedAtMilliseconds: 0) }
        #expect(table.alterations.count == 1)
        try relay.append([events[0]], receivedAtMilliseconds: 0)
        #expect(throws: EventError.self) { try relay.append([events[2]], receivedAtMilliseconds: 0) }
        try relay.append([events[1], events[2]], receivedAtMilliseconds: 0)
        #expect(relay.marks() == origin.marks())
        #expect(relay.events(origin: key.nodeID, after: EventSeq(1), limit: 10, maxBytes: 1 << 20) == Array(events[1...]))
    }

    /// Retention on the interned store follows the `EventStore` contract: the low-water
    /// mark rises, the newest event stays, and reads start at the new low.
    @Test func internedStorePrunesFromTheLowWaterMark() throws {
        let key = SigningKeyPair(seed: [UInt8](repeating: 8, count: 32))!
        let table = EventTable(ids: [key.nodeID])
        var store = InternedEventStore(table: table, clock: VirtualNow())
        var hlc = HybridClock()
        let events = try (1 ... 10).map { n in
            try Event(signing: key, seq: EventSeq(UInt64(n)), time: hlc.tick(wallMilliseconds: UInt64(n) * 1000), kind: "user.test", attributes: [:])
        }
        try store.append(events, receivedAtMilliseconds: 0)
        #expect(store.prune(olderThanMilliseconds: 4000, maxBytesPerOrigin: nil) == 3)
        #expect(store.marks()[key.nodeID] == OriginMarks(low: EventSeq(4), high: EventSeq(10)))
        #expect(store.prune(olderThanMilliseconds: nil, maxBytesPerOrigin: events[0].encodedSize * 2) == 5)
        #expect(store.events(origin: key.nodeID, after: .zero, limit: 10, maxBytes: 1 << 20) == Array(events[8...]))
        #expect(store.prune(olderThanMilliseconds: 100_000, maxBytesPerOrigin: 0) == 1)
        #expect(store.marks()[key.nodeID] == OriginMarks(low: EventSeq(10), high: EventSeq(10)))
    }

    @Test func theScenarioFilesParse() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("simulations")
        for name in ["eventlog-flood", "eventlog-partition", "eventlog-return"] {
            let text = try String(contentsOf: folder.appendingPathComponent(name + ".scenario"), encoding: .utf8)
            #expect(EventLogScenario.engine(of: text) == "eventlog")
            let s = try EventLogScenario(parsing: text)
            #expect(s.name == name)
            #expect(!s.expectations.isEmpty)
        }
        #expect(throws: ScenarioError.self) { try EventLogScenario(parsing: "name x\nnodes 3\nat 1s crash node 7\n") }
    }
}
