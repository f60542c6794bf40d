import Membership
import MeshCore
import MeshWire

/// Fixed parameters of the engine itself (not of the scenario).
public enum SimulationLimits {
    /// How often invariants are checked and convergence is sampled (virtual time).
    public static let checkInterval = Duration.milliseconds(250)
    /// Seeds a starting, joining or restarting node is given.
    public static let joinSeeds = 3
    /// Random pairs of nodes whose Vivaldi estimate is compared with the latency model.
    public static let vivaldiSamplePairs = 2000
    /// Observers whose whole view is compared with their core's member table at the end.
    public static let viewAuditObservers = 64
    /// When a core asks to be woken at or before the instant it was just woken, it is woken
    /// this much later instead (and the stall is counted), so a core bug cannot hang a run.
    public static let minimumWakeStep = Duration.microseconds(1)
    /// Largest node count a run accepts (the view matrix holds slots² bytes).
    public static let maxNodes = 20_000
}

/// A deterministic discrete-event simulation of a mesh of `Membership` cores on a virtual
/// network. One seed fixes everything: node positions, latencies, losses, fault targets and
/// each core's own randomness, so a run is reproduced exactly by its seed.
///
/// Events are (time, sequence number) ordered in a binary heap; every node has at most one
/// valid wake-up pending, re-armed after every call into its core.
public struct Simulation {
    public let scenario: Scenario
    public let seed: UInt64
    let settings: MembershipSettings
    /// Slots: bootstrapping nodes, then nodes added by `join` actions.
    let slotCount: Int
    let ids: [NodeID]
    let addresses: [[PeerAddress]]

    var nodes: [SimNode]
    var network: Network
    var queue = EventQueue<EventKind>(capacity: 1 << 16)
    var deliveries: [Delivery] = []
    var freeDeliveries: [Int32] = []
    var actions: [InternalAction] = []

    /// Randomness: one stream per purpose, forked from the run's seed in a fixed order.
    var nodeRandom: [SeededRandom]
    var faultRandom: SeededRandom
    var restartRandom: SeededRandom

    /// Virtual time in nanoseconds since the start of the run.
    public internal(set) var now: Int64 = 0
    let warmupEnd: Int64
    let endTime: Int64
    var nextJoinSlot: Int

    var observations: Observations
    var invariants: InvariantLog
    var load = LoadCounters()
    var trace: TraceWriter?
    var wakeStalls = 0
    var upNodeCount = 0
    var oversizedDatagrams = 0
    var wireSize: WireSize
    var sentMessages = 0
    /// Sees every message sent (tests).
    var messageObserver: ((MembershipMessage) -> Void)?

    /// Prepares a run. `nodes` overrides the scenario's size; `seed` its default seed.
    public init(scenario original: Scenario, seed: UInt64? = nil, nodes nodeOverride: Int? = nil) throws(ScenarioError) {
        var scenario = original
        if let nodeOverride { scenario.nodes = nodeOverride }
        guard scenario.nodes >= 2 else {
            throw .invalid(key: "nodes", value: "\(scenario.nodes)", allowed: "at least 2")
        }
        let slots = scenario.totalNodeSlots
        guard slots <= SimulationLimits.maxNodes else {
            throw .invalid(key: "nodes", value: "\(slots)", allowed: "at most \(SimulationLimits.maxNodes) (SimulationLimits.maxNodes)")
        }
        self.scenario = scenario
        self.seed = seed ?? scenario.seed
        settings = scenario.profile.settings
        slotCount = slots
        ids = (0 ..< slots).map { SimAddressing.id(node: $0) }
        addresses = (0 ..< slots).map { i in
            scenario.addressesPerNode == 2
                ? [SimAddressing.address(node: i), SimAddressing.address(node: i, secondary: true)]
                : [SimAddressing.address(node: i)]
        }
        var root = SeededRandom(seed: self.seed)
        network = Network(nodes: slots, parameters: scenario.network, random: root.fork())
        faultRandom = root.fork()
        restartRandom = root.fork()
        nodeRandom = (0 ..< slots).map { _ in root.fork() }
        nodes = [SimNode](repeating: SimNode(), count: slots)
        wireSize = WireSize(ids: ids)
        warmupEnd = scenario.warmup.nanoseconds
        endTime = warmupEnd + scenario.duration.nanoseconds
        nextJoinSlot = scenario.nodes
        let fpThreshold = scenario.falsePositivePauseThreshold ?? settings.minSuspicionTimeout(members: scenario.nodes)
        observations = Observations(slots: slots, falsePositivePauseThreshold: fpThreshold.nanoseconds,
                                    falsePositiveWindow: (settings.maxSuspicionTimeout(members: scenario.nodes)
                                        + settings.probeInterval * 2).nanoseconds)
        invariants = InvariantLog()
        scheduleInitialEvents()
    }

    /// Writes one line per event to `trace` (slow; for debugging one seed).
    public mutating func enableTrace(_ writer: TraceWriter) { trace = writer }

    // MARK: running

    /// Runs to the end of the scenario and returns the report (without wall time).
    public mutating func run() -> SimulationReport {
        run(until: endTime)
        return finish()
    }

    /// Advances virtual time, processing every event scheduled up to `limit` (ns).
    public mutating func run(until limit: Int64) {
        while let top = queue.peekTime, top <= limit {
            let event = queue.pop()!
            now = event.time
            switch event.kind {
            case .deliver: deliver(slot: event.index)
            case .wake: wake(node: Int(event.index), seq: event.seq)
            case .action: perform(action: Int(event.index))
            case .resume: resume(node: Int(event.index))
            case .check: periodicCheck()
            }
        }
        if now < limit { now = limit }
    }

    // MARK: calling cores

    private mutating func wake(node i: Int, seq: UInt64) {
        guard nodes[i].wakeSeq == seq else { return }  // superseded
        nodes[i].wakeSeq = .max
        guard nodes[i].state.isUp, !nodes[i].isPaused(at: now) else { return }  // resume re-arms
        trace?.line(now, "wake n\(i)")
        let effects = nodes[i].core!.tick(now: MeshTime(nanoseconds: now))
        execute(effects, of: i)
        rearm(i, afterTick: true)
    }

    /// Keeps exactly one valid wake-up event per node, at the core's `nextWakeup`.
    mutating func rearm(_ i: Int, afterTick: Bool = false) {
        guard nodes[i].state.isUp, let wake = nodes[i].coreWakeup() else { return }
        var t = wake
        if afterTick, t <= now {
            wakeStalls += 1
            t = now + SimulationLimits.minimumWakeStep.nanoseconds
        }
        if nodes[i].wakeSeq != .max, nodes[i].wakeAt == t { return }
        nodes[i].wakeAt = t
        nodes[i].wakeSeq = queue.push(time: max(t, now), kind: .wake, index: Int32(i))
    }

    private mutating func deliver(slot: Int32) {
        let s = Int(slot)
        let to = Int(deliveries[s].to)
        guard nodes[to].state.isUp else {
            _ = network.noteDrop(.receiverDown)
            release(slot)
            return
        }
        if nodes[to].isPaused(at: now) {
            let bytes = Int(deliveries[s].bytes)
            if deliveries[s].transport == .datagram,
               nodes[to].backlogBytes + bytes > network.parameters.pausedReceiveBufferBytes {
                _ = network.noteDrop(.pausedBufferFull)
                release(slot)
                return
            }
            nodes[to].backlog.append(slot)
            nodes[to].backlogBytes += bytes
            return
        }
        receive(slot: slot)
        rearm(to)
    }

    /// Hands the message in `slot` to its receiver's core (which must be up) and frees the slot.
    mutating func receive(slot: Int32) {
        let s = Int(slot)
        let d = deliveries[s]
        deliveries[s] = .empty
        freeDeliveries.append(slot)
        let to = Int(d.to), from = Int(d.from)
        guard let message = d.message else { return }
        if trace != nil { trace!.line(now, "recv \(message.kind) n\(from)->n\(to) \(d.bytes)B" + traceUpdates(message)) }
        let effects = nodes[to].core!.receive(message, from: ids[from], address: addresses[from][0],
                                              now: MeshTime(nanoseconds: now))
        execute(effects, of: to)
    }

    mutating func release(_ slot: Int32) {
        deliveries[Int(slot)] = .empty
        freeDeliveries.append(slot)
    }

    /// Carries out a core's effects for node `i`.
    mutating func execute(_ effects: [MembershipEffect], of i: Int) {
        for effect in effects {
            switch effect {
            case let .send(message, to):
                send(message, from: i, to: to, transport: .datagram)
            case let .exchange(request, to):
                send(.pushPull(request), from: i, to: to, transport: .streamRequest)
            case let .reply(reply, to):
                send(.pushPull(reply), from: i, to: to, transport: .streamReply)
            case let .changed(change):
                observe(observer: i, change: change)
            case .leftMesh:
                finishLeaving(i)
            }
        }
    }

    private mutating func send(_ message: MembershipMessage, from: Int, to address: PeerAddress, transport: Delivery.Transport) {
        let body = wireSize.body(message)
        messageObserver?(message)
        sentMessages &+= 1
        if sentMessages % WireSize.auditInterval == 0 {
            let exact = message.encoded.count
            if exact != body {
                invariants.violate(.wireSizeModel, at: now, "a \(message.kind) encodes to \(exact) bytes but the size model says \(body)")
            }
        }
        let bytes = body + WireLimits.frameOverheadBytes
        // A datagram costs its bytes when sent; a stream (push-pull over TCP) only once its
        // connection is made: to a crashed or cut-off node the connect fails and no payload
        // leaves (the agent's reconnect rounds try a dead member every few seconds).
        let counting = now >= warmupEnd
        if counting, transport == .datagram { load.count(message.kind, bytes: bytes) }
        if transport == .datagram, body > WireLimits.maxDatagramBodyBytes {
            oversizedDatagrams += 1
            invariants.violate(.datagramSize, at: now,
                               "n\(from) sent a \(message.kind) of \(body) body bytes, over the \(WireLimits.maxDatagramBodyBytes)-byte datagram limit")
        }
        guard let to = SimAddressing.node(of: address, count: slotCount) else {
            _ = network.noteDrop(.noSuchAddress)
            return
        }
        let route = transport == .datagram
            ? network.routeDatagram(from: from, to: to, bytes: bytes, now: now)
            : network.routeStream(from: from, to: to, bytes: bytes, now: now, isRequest: transport == .streamRequest)
        if let reason = route.dropped {
            if trace != nil { trace!.line(now, "drop \(message.kind) n\(from)->n\(to) \(reason)") }
            return
        }
        if counting, transport != .datagram, nodes[to].state.isUp { load.count(message.kind, bytes: bytes) }
        let delivery = Delivery(message: message, from: Int32(from), to: Int32(to), transport: transport, bytes: Int32(bytes))
        schedule(delivery, at: route.arrival)
        if route.duplicateArrival >= 0 { schedule(delivery, at: route.duplicateArrival) }
    }

    private mutating func schedule(_ delivery: Delivery, at time: Int64) {
        let slot: Int32
        if let free = freeDeliveries.popLast() {
            slot = free
            deliveries[Int(free)] = delivery
        } else {
            slot = Int32(deliveries.count)
            deliveries.append(delivery)
        }
        queue.push(time: time, kind: .deliver, index: slot)
    }

    // MARK: accessors for tests and reports

    /// The node index of slot `i`'s id, or nil for an id that is not one of ours.
    func index(of id: NodeID) -> Int? {
        guard let n = SimAddressing.node(of: id, count: slotCount), ids[n] == id else { return nil }
        return n
    }

    public var nodeCount: Int { slotCount }
    public func state(of node: Int) -> NodeState { nodes[node].state }
    public func id(of node: Int) -> NodeID { ids[node] }
    public var networkCounters: NetworkCounters { network.counters }
    /// What `observer`'s core says about `subject` right now (nil: unknown or observer down).
    public func status(of subject: Int, seenBy observer: Int) -> MemberStatus? {
        nodes[observer].core?.member(ids[subject])?.status
    }
    /// The time the warm-up ends (the timeline's zero), in nanoseconds.
    public var warmupEndNanoseconds: Int64 { warmupEnd }
    public var endNanoseconds: Int64 { endTime }
}
