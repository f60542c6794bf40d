import Foundation
import EventLog
import MeshCore
import MeshWire

/// Fixed parameters of the event-log engine.
public enum EventLogSimulationLimits {
    /// How often the continuous invariants run (no event lost, none altered).
    public static let invariantInterval = Duration.seconds(5)
    /// How often an open convergence watch (after a heal or a restart) is sampled: the
    /// resolution of the reported convergence and catch-up times.
    public static let convergenceSampleInterval = Duration.milliseconds(100)
    /// Largest node count (the engine keeps nodes × nodes marks).
    public static let maxNodes = 5000
    /// Wall-clock milliseconds at virtual time zero (events carry wall time).
    public static let wallEpochMilliseconds: UInt64 = 1_700_000_000_000
    /// The agent's wait for a peer to describe a fresh node's own history before it
    /// assumes it has none (`EventLogService.ownHistoryRefillTimeout`), modelled here.
    public static let ownHistoryRefillTimeout = Duration.seconds(3)
}

/// A deterministic simulation of the replicated event log: N nodes each running the real
/// `Replicator` on virtual time over the simulator's `Network` (latency, loss, partitions).
///
/// Membership is an oracle: every node's peer list is the set of nodes that are up and on
/// its side of any partition, updated at the instant a fault starts or ends (the real
/// agent learns it from SWIM some seconds later). Bodies are stored once (`EventTable`);
/// each node keeps only its marks (`InternedEventStore`).
///
/// Queue kinds (the shared `EventQueue`): `.wake` a node's replicator timer, `.deliver` a
/// message, `.action` a timeline step, `.resume` a node's next append, `.check` the
/// invariants and convergence watches.
public struct EventLogSimulation {
    public let scenario: EventLogScenario
    public let seed: UInt64
    let settings: ReplicationSettings
    let ids: [NodeID]
    let keys: [SigningKeyPair]
    let table: EventTable
    let clock = VirtualNow()
    var network: Network
    var queue = EventQueue<EventKind>(capacity: 1 << 16)
    var nodes: [Node]
    var deliveries: [Delivery?] = []
    var freeDeliveries: [Int32] = []
    var restartRandom: SeededRandom
    var now: Int64 = 0
    let appendEnd: Int64
    /// `scenario.measureAfter` in nanoseconds.
    let measureFrom: Int64
    let endTime: Int64
    var group: [Int]
    var upCount: Int
    var faultsActive = 0
    var watches: [Watch] = []
    var watchSampleScheduled = false
    var metrics = EventLogMetrics()
    var violations: [EventLogViolation] = []

    struct Node {
        var replicator: Replicator<InternedEventStore>?
        /// The store kept across a crash (the disk).
        var disk: InternedEventStore
        var up = true
        var epoch: Int32 = 0
        var wakeToken: UInt64 = .max
        var wakeAt: Int64 = .max
        var appends = 0
        var refillDeadline: Int64?
    }

    struct Delivery {
        var from: Int32
        var to: Int32
        var epoch: Int32
        var message: ReplicationMessage
    }

    /// Waits until `nodes` hold every event appended before `started` (`targets`, per origin).
    struct Watch {
        var label: String
        var started: Int64
        var nodes: [Int]
        var targets: [Int]
        var isCatchUp: Bool
    }

    public init(scenario original: EventLogScenario, seed: UInt64? = nil, nodes nodeOverride: Int? = nil) throws(ScenarioError) {
        var scenario = original
        if let nodeOverride { scenario.nodes = nodeOverride }
        guard scenario.nodes >= 2, scenario.nodes <= EventLogSimulationLimits.maxNodes else {
            throw .invalid(key: "nodes", value: "\(scenario.nodes)", allowed: "2 ... \(EventLogSimulationLimits.maxNodes)")
        }
        for a in scenario.timeline {
            if case let .crash(n) = a.kind, n >= scenario.nodes { throw .invalid(key: "nodes", value: "\(scenario.nodes)", allowed: "more than node \(n) of the timeline") }
            if case let .restart(n, _) = a.kind, n >= scenario.nodes { throw .invalid(key: "nodes", value: "\(scenario.nodes)", allowed: "more than node \(n) of the timeline") }
        }
        self.scenario = scenario
        self.seed = seed ?? scenario.seed
        settings = scenario.settings
        var root = SeededRandom(seed: self.seed)
        network = Network(nodes: scenario.nodes, parameters: scenario.network, random: root.fork())
        restartRandom = root.fork()
        var keys: [SigningKeyPair] = []
        for _ in 0 ..< scenario.nodes {
            var r = root.fork()
            let seedBytes = (0 ..< 4).flatMap { _ in withUnsafeBytes(of: r.next().bigEndian, Array.init) }
            keys.append(SigningKeyPair(seed: seedBytes)!)
        }
        self.keys = keys
        ids = keys.map(\.nodeID)
        table = EventTable(ids: ids)
        group = [Int](repeating: 0, count: scenario.nodes)
        upCount = scenario.nodes
        appendEnd = scenario.duration.nanoseconds
        measureFrom = scenario.measureAfter.nanoseconds
        endTime = appendEnd + scenario.settle.nanoseconds
        let empty = InternedEventStore(table: table, clock: clock)
        nodes = [Node](repeating: Node(replicator: nil, disk: empty), count: scenario.nodes)
        for i in 0 ..< scenario.nodes {
            var r = try! Replicator(store: empty, key: keys[i], settings: settings, random: root.fork(), now: .zero)
            r.assumeOwnHistoryComplete()     // a new mesh: nobody has history yet
            nodes[i].replicator = r
        }
        refreshPeers()
        for i in 0 ..< scenario.nodes {
            rearm(i)
            let phase = scenario.appendInterval.nanoseconds * Int64(i) / Int64(scenario.nodes)
            queue.push(time: phase, kind: .resume, index: Int32(i))
        }
        for (i, a) in scenario.timeline.enumerated() { queue.push(time: a.at.nanoseconds, kind: .action, index: Int32(i)) }
        queue.push(time: EventLogSimulationLimits.invariantInterval.nanoseconds, kind: .check, index: 0)
    }

    // MARK: running

    /// Runs to the end and returns the report (without wall time).
    public mutating func run() -> EventLogReport {
        run(until: endTime)
        return finish()
    }

    mutating func run(until limit: Int64) {
        while let top = queue.peekTime, top <= limit {
            let e = queue.pop()!
            now = e.time
            clock.nanoseconds = now
            let i = Int(e.index)
            switch e.kind {
            case .wake:
                guard nodes[i].up, e.seq == nodes[i].wakeToken else { continue }
                nodes[i].wakeToken = .max
                if let deadline = nodes[i].refillDeadline, now >= deadline {
                    nodes[i].refillDeadline = nil
                    nodes[i].replicator!.assumeOwnHistoryComplete()
                }
                let effects = nodes[i].replicator!.tick(now: MeshTime(nanoseconds: now))
                execute(effects, of: i)
                rearm(i)
            case .deliver:
                let d = deliveries[i]!
                deliveries[i] = nil
                freeDeliveries.append(Int32(i))
                let to = Int(d.to)
                guard nodes[to].up, nodes[to].epoch == d.epoch else { metrics.droppedAtDownNodes += 1; continue }
                if debugCounters { countDuplicates(d.message, at: to) }
                let effects = nodes[to].replicator!.receive(d.message, from: ids[Int(d.from)], now: MeshTime(nanoseconds: now),
                                                            wallMilliseconds: wall)
                execute(effects, of: to)
                rearm(to)
            case .resume:
                appendTick(i)
            case .action:
                apply(scenario.timeline[i].kind)
            case .check:
                if i == 0 {
                    checkInvariants()
                    queue.push(time: now + EventLogSimulationLimits.invariantInterval.nanoseconds, kind: .check, index: 0)
                } else {
                    watchSampleScheduled = false
                    sampleWatches()
                }
            }
        }
        now = limit
        clock.nanoseconds = now
    }

    /// `MESHSIM_EVENTLOG_DEBUG` is set: count, per message kind, the events a node already held.
    let debugCounters = ProcessInfo.processInfo.environment["MESHSIM_EVENTLOG_DEBUG"] != nil

    mutating func countDuplicates(_ message: ReplicationMessage, at node: Int) {
        let events: [Event]
        switch message {
        case let .push(e), let .batch(e, _): events = e
        default: return
        }
        let s = store(of: node)
        var held = 0
        for e in events { if let o = table.origin(e.origin), s.holds(origin: o, seq: e.seq.value) { held += 1 } }
        if case .push = message { metrics.duplicatePushEvents += held } else { metrics.duplicateBatchEvents += held }
    }

    var wall: UInt64 { EventLogSimulationLimits.wallEpochMilliseconds + UInt64(now / 1_000_000) }

    mutating func appendTick(_ i: Int) {
        guard now < appendEnd else { return }
        queue.push(time: now + scenario.appendInterval.nanoseconds, kind: .resume, index: Int32(i))
        guard nodes[i].up else { return }
        nodes[i].appends += 1
        do {
            let (_, effects) = try nodes[i].replicator!.append(kind: "workload.tick", attributes: ["n": "\(nodes[i].appends)"],
                                                                wallMilliseconds: wall, now: MeshTime(nanoseconds: now))
            metrics.appended += 1
            execute(effects, of: i)
            rearm(i)
        } catch {
            metrics.appendsRefused += 1
        }
    }

    mutating func rearm(_ i: Int) {
        // `nodes[i].replicator?.nextWakeup` reads in place; `let r = nodes[i].replicator`
        // copied the whole core (its tables retained and released), 6% of a flood's time.
        guard nodes[i].up, let wake = nodes[i].replicator?.nextWakeup else { return }
        var t = wake.nanoseconds
        if let deadline = nodes[i].refillDeadline { t = min(t, deadline) }
        t = max(t, now)
        if nodes[i].wakeToken != .max, nodes[i].wakeAt == t { return }
        nodes[i].wakeAt = t
        nodes[i].wakeToken = queue.push(time: t, kind: .wake, index: Int32(i))
    }

    // MARK: effects

    mutating func execute(_ effects: [ReplicationEffect], of i: Int) {
        for effect in effects {
            switch effect {
            case let .send(message, to):
                send(message, from: i, to: table.origin(to)!)
            case let .stored(events):
                for e in events { noteStored(e, by: i) }
            case let .rejected(origin, seq, error):
                violate(.noRejection, "n\(i) refused \(origin)/\(seq): \(error)")
            }
        }
    }

    mutating func send(_ message: ReplicationMessage, from: Int, to: Int) {
        let body = Self.bodyBytes(message)
        let bytes = body + WireLimits.frameOverheadBytes
        if now >= measureFrom { count(message, bytes: bytes) }
        let route = body <= WireLimits.maxDatagramBodyBytes
            ? network.routeDatagram(from: from, to: to, bytes: bytes, now: now)
            : network.routeStream(from: from, to: to, bytes: bytes, now: now, isRequest: true)
        guard route.dropped == nil else { return }
        let d = Delivery(from: Int32(from), to: Int32(to), epoch: nodes[to].epoch, message: message)
        for arrival in [route.arrival, route.duplicateArrival] where arrival >= 0 {
            let slot: Int32
            if let free = freeDeliveries.popLast() { slot = free; deliveries[Int(free)] = d } else {
                deliveries.append(d); slot = Int32(deliveries.count - 1)
            }
            queue.push(time: arrival, kind: .deliver, index: slot)
        }
    }

    mutating func count(_ message: ReplicationMessage, bytes: Int) {
        switch message {
        case .push: metrics.pushBytes += bytes; metrics.pushMessages += 1
        case .digest, .delta: metrics.digestBytes += bytes; metrics.digestMessages += 1
        case .batch: metrics.batchBytes += bytes; metrics.batchMessages += 1
        case .ihave, .graft, .prune: metrics.treeBytes += bytes; metrics.treeMessages += 1
        }
    }

    /// The encoded body size of a replication message (`ReplicationMessage.encodedSize`:
    /// the layout of `encoded`, added up rather than encoded).
    static func bodyBytes(_ m: ReplicationMessage) -> Int { m.encodedSize }

    mutating func noteStored(_ e: Event, by node: Int) {
        let o = table.origin(e.origin)!
        let s = Int(e.seq.value) - 1
        if o != node, now >= measureFrom { metrics.rawEventBytesDelivered += e.encodedSize }
        table.holders[o][s] += 1
        if table.holders[o][s] == Int32(upCount), table.completedAt[o][s] == -1 {
            table.completedAt[o][s] = faultsActive > 0 ? -2 : now
        } else if table.completedAt[o][s] == -1, faultsActive > 0 {
            table.completedAt[o][s] = -2      // appended or spread during a fault: not a latency sample
        }
    }

    // MARK: faults

    mutating func apply(_ kind: EventLogAction.Kind) {
        switch kind {
        case let .partition(percent):
            let cut = Int((Double(scenario.nodes) * percent / 100).rounded())
            group = (0 ..< scenario.nodes).map { $0 < cut ? 0 : 1 }
            network.partition(groups: group)
            beginFault()
        case .heal:
            network.heal()
            group = [Int](repeating: 0, count: scenario.nodes)
            endFault()
            watches.append(Watch(label: "heal", started: now, nodes: upNodes, targets: counts, isCatchUp: false))
            scheduleWatchSample()
        case let .crash(node):
            guard nodes[node].up else { return }
            nodes[node].disk = nodes[node].replicator!.store
            nodes[node].replicator = nil
            nodes[node].up = false
            nodes[node].epoch += 1
            nodes[node].wakeToken = .max
            adjustHolders(of: node, by: -1)
            upCount -= 1
            beginFault()
        case let .restart(node, empty):
            guard !nodes[node].up else { return }
            if empty { nodes[node].disk = InternedEventStore(table: table, clock: clock) }
            var r = try! Replicator(store: nodes[node].disk, key: keys[node], settings: settings, random: restartRandom.fork(),
                                    now: MeshTime(nanoseconds: now))
            if empty { nodes[node].refillDeadline = now + EventLogSimulationLimits.ownHistoryRefillTimeout.nanoseconds }
            else { r.assumeOwnHistoryComplete() }
            nodes[node].replicator = r
            nodes[node].up = true
            upCount += 1
            adjustHolders(of: node, by: 1)
            endFault()
            watches.append(Watch(label: "n\(node) back after a crash\(empty ? ", empty disk" : "")", started: now,
                                 nodes: [node], targets: counts, isCatchUp: true))
            rearm(node)
            scheduleWatchSample()
        }
        refreshPeers()
    }

    /// While a fault is active, events are not latency samples.
    mutating func beginFault() { faultsActive += 1 }
    mutating func endFault() { faultsActive = max(0, faultsActive - 1) }

    /// `holders` counts only live nodes: a node going down or coming back changes it for
    /// everything it holds.
    mutating func adjustHolders(of node: Int, by delta: Int32) {
        let store = store(of: node)
        for o in 0 ..< ids.count where store.high[o] > 0 {
            for s in store.low[o] ... store.high[o] { table.holders[o][Int(s) - 1] += delta }
        }
    }

    var upNodes: [Int] { nodes.indices.filter { nodes[$0].up } }
    var counts: [Int] { (0 ..< ids.count).map { table.count(origin: $0) } }

    mutating func refreshPeers() {
        var byGroup: [Int: [NodeID]] = [:]
        for i in nodes.indices where nodes[i].up { byGroup[group[i], default: []].append(ids[i]) }
        for i in nodes.indices where nodes[i].up { nodes[i].replicator!.setPeers(byGroup[group[i]] ?? []) }
    }

    // MARK: invariants and watches

    mutating func scheduleWatchSample() {
        guard !watchSampleScheduled else { return }
        watchSampleScheduled = true
        queue.push(time: now + EventLogSimulationLimits.convergenceSampleInterval.nanoseconds, kind: .check, index: 1)
    }

    func store(of node: Int) -> InternedEventStore { nodes[node].replicator?.store ?? nodes[node].disk }

    mutating func sampleWatches() {
        var open: [Watch] = []
        var any = false
        for w in watches {
            let done = w.nodes.allSatisfy { n in
                !nodes[n].up || (0 ..< ids.count).allSatisfy { o in store(of: n).high[o] >= UInt64(w.targets[o]) }
            }
            if done {
                let seconds = Double(now - w.started) / 1e9
                metrics.watches.append((w.label, seconds, w.isCatchUp))
            } else { open.append(w); any = true }
        }
        watches = open
        if any { scheduleWatchSample() }
    }

    /// No event lost: every event appended is still held by some node's disk. None altered:
    /// the interned table found no differing body.
    mutating func checkInvariants() {
        for a in table.alterations.dropFirst(metrics.alterationsSeen) { violate(.noEventAltered, a) }
        metrics.alterationsSeen = table.alterations.count
        for o in 0 ..< ids.count {
            let appended = UInt64(table.count(origin: o))
            guard appended > 0 else { continue }
            var best: UInt64 = 0
            for n in nodes.indices { best = max(best, store(of: n).high[o]) }
            if best < appended { violate(.noEventLost, "n\(o)'s events \(best + 1)...\(appended) are held by no node") }
        }
    }

    mutating func violate(_ invariant: EventLogInvariant, _ detail: String) {
        metrics.violationCount[invariant, default: 0] += 1
        if violations.filter({ $0.invariant == invariant }).count < 5 {
            violations.append(EventLogViolation(invariant: invariant, atSeconds: Double(now) / 1e9, detail: detail))
        }
    }

    // MARK: the end

    mutating func finish() -> EventLogReport {
        checkInvariants()
        if ProcessInfo.processInfo.environment["MESHSIM_EVENTLOG_DEBUG"] != nil {
            var t = ReplicationMetrics()
            var eagerSum = 0, isolated = 0
            for n in nodes { if let r = n.replicator {
                let m = r.metrics
                t.duplicates += m.duplicates; t.prunesSent += m.prunesSent; t.graftsSent += m.graftsSent
                t.graftedEventsSent += m.graftedEventsSent; t.idsAnnounced += m.idsAnnounced; t.graftsAbandoned += m.graftsAbandoned
                t.eagerRefills += m.eagerRefills; t.stored += m.stored; t.batchesSent += m.batchesSent; t.deltasSent += m.deltasSent
                t.digestsSent += m.digestsSent; t.pushesSent += m.pushesSent
                t.batchOriginsInFlightSkipped += m.batchOriginsInFlightSkipped
                eagerSum += r.eagerPeers.count; if r.eagerPeers.isEmpty { isolated += 1 }
            } }
            FileHandle.standardError.write(Data("debug: \(t) eager avg \(Double(eagerSum) / Double(nodes.count)) isolated \(isolated)\n".utf8))
            FileHandle.standardError.write(Data("debug: events already held on arrival: by push \(metrics.duplicatePushEvents), by batch \(metrics.duplicateBatchEvents)\n".utf8))
        }
        // Converged: every live node holds every origin's whole sequence, gap-free, and all
        // digests are equal.
        var digests: Set<UInt64> = []
        var behind = 0
        for n in nodes.indices where nodes[n].up {
            let s = store(of: n)
            var h: UInt64 = 0xcbf2_9ce4_8422_2325
            for o in 0 ..< ids.count {
                let count = UInt64(table.count(origin: o))
                if s.high[o] != count || (count > 0 && s.low[o] != 1) {
                    behind += 1
                    if behind <= 3 { violate(.convergedAtEnd, "n\(n) holds \(s.low[o])...\(s.high[o]) of n\(o)'s 1...\(count)") }
                }
                for v in [UInt64(o), s.low[o], s.high[o]] { h = (h ^ v) &* 0x100_0000_01b3 }
            }
            digests.insert(h)
        }
        if behind > 3 { violate(.convergedAtEnd, "\(behind) (node, origin) pairs in all are not converged") }
        for w in watches { violate(.convergedAtEnd, "\(w.label) at \(Double(w.started) / 1e9) s: not converged by the end") }
        var latencies: [Int64] = []
        var unmeasured = 0
        let bounds = LatencyWindow.bounds(from: measureFrom, to: appendEnd)
        var windowed = [[Int64]](repeating: [], count: bounds.count)
        for o in 0 ..< ids.count {
            for (s, done) in table.completedAt[o].enumerated() where table.appendedAt[o][s] >= measureFrom {
                let at = table.appendedAt[o][s]
                if done >= 0 {
                    latencies.append(done - at)
                    if let w = bounds.lastIndex(where: { $0 <= at }) { windowed[w].append(done - at) }
                } else { unmeasured += 1 }
            }
        }
        latencies.sort()
        var windows: [LatencyWindow] = []
        for (w, from) in bounds.enumerated() where !windowed[w].isEmpty {
            windows.append(LatencyWindow(from: from, to: w + 1 < bounds.count ? bounds[w + 1] : nil, latencies: windowed[w].sorted()))
        }
        return EventLogReport(scenario: scenario, seed: seed, nodes: scenario.nodes, events: table.totalEvents,
                              latencies: latencies, latencyWindows: windows, unmeasured: unmeasured, distinctDigests: digests.count,
                              metrics: metrics, violations: violations, network: network.counters)
    }
}

/// What the event-log engine checks.
public enum EventLogInvariant: String, Sendable, CaseIterable {
    case noEventLost = "no_event_lost"
    case noEventAltered = "no_event_altered"
    /// Every refusal by a core (bad signature, store refusing a gap) is a bug here: the
    /// scenarios have no forging node.
    case noRejection = "no_rejection"
    /// At the end: every live node holds every origin's 1...high with no gap; equal digests.
    case convergedAtEnd = "converged_gap_free_at_end"
}

/// One violation, with the virtual time it was seen.
public typealias EventLogViolation = Violation<EventLogInvariant>

/// Counters of one event-log run.
public struct EventLogMetrics {
    public var appended = 0
    public var appendsRefused = 0
    /// Digest bytes include incremental digests; tree bytes are IHAVE, GRAFT and PRUNE.
    public var pushBytes = 0, digestBytes = 0, batchBytes = 0, treeBytes = 0
    public var pushMessages = 0, digestMessages = 0, batchMessages = 0, treeMessages = 0
    /// Encoded bytes of every event stored by a node other than its origin: the raw bytes
    /// that had to travel, once per receiving node.
    public var rawEventBytesDelivered = 0
    public var droppedAtDownNodes = 0
    /// Events that arrived at a node already holding them (stored; `MESHSIM_EVENTLOG_DEBUG` only).
    public var duplicatePushEvents = 0, duplicateBatchEvents = 0
    var alterationsSeen = 0
    public var violationCount: [EventLogInvariant: Int] = [:]
    /// (label, seconds, is a catch-up) of each convergence watch that closed.
    public var watches: [(String, Double, Bool)] = []
    public var replicationBytes: Int { pushBytes + digestBytes + batchBytes + treeBytes }
}
