import MeshCore
@testable import MeshSimulation
import Testing

/// The event queue, the network model and the scenario format, each on its own.
struct EngineTests {
    @Test func eventQueuePopsByTimeThenSchedulingOrder() {
        var q = EventQueue<EventKind>()
        var r = SeededRandom(seed: 9)
        var pushed: [(Int64, UInt64)] = []
        for i in 0 ..< 5000 {
            let t = Int64(r.next() % 100)
            let seq = q.push(time: t, kind: .wake, index: Int32(i))
            pushed.append((t, seq))
        }
        var popped: [(Int64, UInt64)] = []
        while let e = q.pop() { popped.append((e.time, e.seq)) }
        let expected = pushed.sorted { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
        #expect(popped.map(\.0) == expected.map(\.0))
        #expect(popped.map(\.1) == expected.map(\.1))
    }

    @Test func lossRateMatchesTheSetting() {
        var net = Network(nodes: 10, parameters: NetworkParameters(lossRate: 0.2), random: SeededRandom(seed: 1))
        var lost = 0
        let n = 50_000
        for i in 0 ..< n where net.routeDatagram(from: i % 10, to: (i + 1) % 10, bytes: 100, now: 0).dropped == .loss { lost += 1 }
        #expect(abs(Double(lost) / Double(n) - 0.2) < 0.01)
        #expect(net.counters.dropped(.loss) == lost)
    }

    @Test func latencyStaysWithinTheModelAndJitterReorders() {
        let p = NetworkParameters(baseLatency: .milliseconds(1), spreadLatency: .milliseconds(10), jitter: .milliseconds(2))
        var net = Network(nodes: 50, parameters: p, random: SeededRandom(seed: 2))
        var arrivals: [Int64] = []
        for i in 0 ..< 2000 {
            let route = net.routeDatagram(from: i % 50, to: (i * 7 + 1) % 50, bytes: 100, now: Int64(i) * 10_000)
            let delay = route.arrival - Int64(i) * 10_000
            #expect(delay >= 1_000_000 && delay <= 13_000_000)
            if i % 50 == 0 { arrivals.append(route.arrival) }
        }
        // Same link, sent in order: jitter larger than the spacing makes some arrive out of order.
        var same: [Int64] = []
        for i in 0 ..< 200 { same.append(net.routeDatagram(from: 3, to: 4, bytes: 100, now: Int64(i) * 100_000).arrival) }
        #expect(same != same.sorted())
        #expect(net.trueRoundTrip(3, 4) == net.trueRoundTrip(4, 3))
    }

    @Test func duplicationDeliversTwice() {
        var net = Network(nodes: 2, parameters: NetworkParameters(duplicateRate: 0.5), random: SeededRandom(seed: 3))
        var twice = 0
        for _ in 0 ..< 10_000 where net.routeDatagram(from: 0, to: 1, bytes: 10, now: 0).duplicateArrival >= 0 { twice += 1 }
        #expect(twice > 4500 && twice < 5500)
        #expect(net.counters.duplicated == twice)
    }

    @Test func partitionsCutBothWaysAndOneWayPartitionsOneWay() {
        var net = Network(nodes: 4, parameters: .lan, random: SeededRandom(seed: 4))
        net.partition(groups: [0, 0, 1, 1])
        #expect(net.routeDatagram(from: 0, to: 2, bytes: 10, now: 0).dropped == .partition)
        #expect(net.routeDatagram(from: 2, to: 0, bytes: 10, now: 0).dropped == .partition)
        #expect(net.routeDatagram(from: 0, to: 1, bytes: 10, now: 0).dropped == nil)
        #expect(net.routeStream(from: 3, to: 1, bytes: 10, now: 0, isRequest: true).dropped == .partition)
        net.heal()
        #expect(net.routeDatagram(from: 0, to: 2, bytes: 10, now: 0).dropped == nil)

        net.assign(groups: [1, 0, 0, 0])
        net.block(fromGroup: 1, toGroup: 0)
        #expect(!net.reachable(0, 1))
        #expect(net.reachable(1, 0))
    }

    @Test func aCutLinkThatRefusesSendsDoesSoForEveryMessageAndCountsTheSender() {
        var net = Network(nodes: 40, parameters: NetworkParameters(refusedSendShare: 0.5), random: SeededRandom(seed: 4))
        net.partition(groups: (0 ..< 40).map { $0 < 20 ? 0 : 1 })
        var refusing = 0
        for a in 0 ..< 20 {
            for b in 20 ..< 40 {
                let first = net.routeDatagram(from: a, to: b, bytes: 10, now: 0).dropped
                #expect(first == .partition || first == .sendRefused)
                // A route is a property of the link: every later message on it fares the same.
                #expect(net.routeDatagram(from: a, to: b, bytes: 10, now: 1).dropped == first)
                #expect(net.routeStream(from: a, to: b, bytes: 10, now: 2, isRequest: true).dropped == first)
                if first == .sendRefused { refusing += 1 }
            }
        }
        #expect(refusing > 150 && refusing < 250, "about half of the 400 links refuse: \(refusing)")
        #expect(net.counters.dropped(.sendRefused) == refusing * 3)
        #expect(net.refusedSends.reduce(0, +) == refusing * 3)
        #expect(net.refusedSends[20 ..< 40].allSatisfy { $0 == 0 }, "only the senders count")
        #expect(net.routeDatagram(from: 0, to: 1, bytes: 10, now: 3).dropped == nil, "a link inside one side is not cut")

        var none = Network(nodes: 4, parameters: .lan, random: SeededRandom(seed: 4))
        none.partition(groups: [0, 0, 1, 1])
        #expect(none.routeDatagram(from: 0, to: 2, bytes: 10, now: 0).dropped == .partition, "share 0: every cut message vanishes")
        #expect(none.refusedSends == [0, 0, 0, 0])
    }

    @Test func bandwidthCapQueuesThenDrops() {
        let p = NetworkParameters(baseLatency: .zero, spreadLatency: .zero, jitter: .zero,
                                  bandwidthBytesPerSecond: 1000, maxEgressQueueDelay: .seconds(1))
        var net = Network(nodes: 2, parameters: p, random: SeededRandom(seed: 5))
        // 100-byte datagrams at 1000 B/s: each leaves 100 ms after the previous one.
        let a = net.routeDatagram(from: 0, to: 1, bytes: 100, now: 0)
        let b = net.routeDatagram(from: 0, to: 1, bytes: 100, now: 0)
        #expect(a.arrival == 100_000_000)
        #expect(b.arrival == 200_000_000)
        var dropped = 0
        for _ in 0 ..< 20 where net.routeDatagram(from: 0, to: 1, bytes: 100, now: 0).dropped == .egressQueueFull { dropped += 1 }
        #expect(dropped > 5)
    }

    @Test func scenarioFormatParsesEveryAction() throws {
        let text = """
        # a comment
        name demo
        description all the actions
        nodes 40
        profile local
        seed 7
        warmup 20s
        bootstrap 5s
        duration 2m
        latency base 1ms spread 2ms jitter 500us
        loss 1%
        bandwidth 1MB/s
        at 1s crash 2
        at 2s crash 10%
        at 3s crash node 5
        at 4s restart 1 after 5s
        at 5s leave node 7
        at 6s join 3
        at 7s pause node 9 for 500ms every 2s until 60s
        at 8s partition 30% 70%
        at 9s heal
        at 10s partition oneway 10%
        at 11s loss 20%
        at 12s duplicate 1%
        at 13s churn 1%/min downtime 20s until 100s
        expect detection_max_seconds <= 14.9
        expect false_positives == 0
        """
        let s = try Scenario(parsing: text)
        #expect(s.name == "demo" && s.nodes == 40 && s.profile == .local && s.seed == 7)
        #expect(s.duration == .seconds(120) && s.warmup == .seconds(20) && s.bootstrapSpread == .seconds(5))
        #expect(s.network.baseLatency == .milliseconds(1) && s.network.jitter == .microseconds(500))
        #expect(s.network.lossRate == 0.01 && s.network.bandwidthBytesPerSecond == 1_000_000)
        #expect(s.timeline.count == 13)
        #expect(s.timeline[1].action == .crash(.percent(10)))
        #expect(s.timeline[3].action == .restart(.count(1), downtime: .seconds(5)))
        #expect(s.timeline[6].action == .pause(.node(9), length: .milliseconds(500), every: .seconds(2), until: .seconds(60)))
        #expect(s.timeline[7].action == .partition([30, 70]))
        #expect(s.timeline[12].action == .churn(percentPerMinute: 1, downtime: .seconds(20), until: .seconds(100)))
        #expect(s.totalNodeSlots == 43)
        #expect(s.expectations == [ExpectedBound(.detectionMaxSeconds, .lessOrEqual, 14.9), ExpectedBound(.falsePositives, .equal, 0)])
    }

    @Test func scenarioErrorsNameTheLine() {
        #expect(throws: ScenarioError.syntax(line: 3, text: "at 5s explode 3",
                                             expected: "an action (crash, restart, leave, join, pause, partition, heal, loss, duplicate, churn)")) {
            try Scenario(parsing: "name x\nnodes 3\nat 5s explode 3")
        }
        #expect(throws: ScenarioError.missing(key: "nodes")) { try Scenario(parsing: "name x") }
        #expect(throws: (any Error).self) { try Scenario(parsing: "name x\nnodes 3\nexpect speed <= 3") }
        #expect(throws: (any Error).self) { try Scenario(parsing: "name x\nnodes 3\nat 1s partition 30% 30%") }
    }

    @Test func addressesAndIdsMapBackToNodes() {
        for i in [0, 1, 255, 256, 9999] {
            #expect(SimAddressing.node(of: SimAddressing.address(node: i), count: 10_000) == i)
            #expect(SimAddressing.node(of: SimAddressing.address(node: i, secondary: true), count: 10_000) == i)
            #expect(SimAddressing.node(of: SimAddressing.id(node: i), count: 10_000) == i)
        }
        #expect(SimAddressing.node(of: SimAddressing.address(node: 10), count: 10) == nil)
        #expect(SimAddressing.id(node: 1) != SimAddressing.id(node: 2))
    }

    @Test func memberlistBoundForAThousandNodes() {
        // 1 + 0.5 + 4 × 3 + 0.2 × ceil(log3 1000 = 6.29) = 14.9
        #expect(abs(Report.memberlistBound(nodes: 1000) - 14.9) < 1e-9)
    }
}

/// The byte-count model agrees with the real encoding on every message a small mesh sends.
struct WireSizeTests {
    @Test func sizeModelMatchesEncodingOnEveryMessageKind() throws {
        // Every message of a run with crashes, loss and a pause is checked, not a sample.
        let s = SimulationTests.scenario("sizes", nodes: 16, duration: .seconds(20), timeline: [
            TimedAction(at: .seconds(1), action: .loss(0.1)),
            TimedAction(at: .seconds(2), action: .crash(.count(2))),
            TimedAction(at: .seconds(3), action: .leave(.count(1))),
        ])
        var sim = try Simulation(scenario: s)
        var model = WireSize(ids: (0 ..< sim.nodeCount).map { sim.id(of: $0) })
        var kinds = Set<UInt8>()
        var checked = 0
        sim.messageObserver = { message in
            #expect(model.body(message) == message.encoded.count, "\(message.kind)")
            kinds.insert(message.kind.rawValue)
            checked += 1
        }
        _ = sim.run()
        #expect(checked > 1000)
        #expect(kinds.isSuperset(of: [1, 2, 3, 4, 5, 8]), "ping, ping-req, ack, nack, push-pull and gossip all seen")
    }
}
