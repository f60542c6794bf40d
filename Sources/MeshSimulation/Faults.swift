@_spi(Simulation) import Membership
import MeshCore

/// Scheduled work of the engine itself: bootstrap, the tracer update, the scenario's
/// timeline, and the follow-ups faults schedule (restarts, repeated pauses, churn).
enum InternalAction {
    case start(node: Int)
    /// `bootstrap converged`: every bootstrapping node starts knowing every other one.
    case startConverged
    case warmupEnd
    case tracerUpdate
    case timeline(Int)
    case restartNode(Int)
    case pause(nodes: [Int], length: Int64, every: Int64?, until: Int64)
    case churn(interval: Int64, downtime: Int64, until: Int64)
}

extension Simulation {
    mutating func schedule(_ action: InternalAction, at time: Int64) {
        actions.append(action)
        queue.push(time: time, kind: .action, index: Int32(actions.count - 1))
    }

    mutating func scheduleInitialEvents() {
        let count = scenario.nodes
        let spread = scenario.bootstrapSpread.nanoseconds
        if scenario.convergedStart {
            schedule(.startConverged, at: 0)
        } else {
            for i in 0 ..< count {
                schedule(.start(node: i), at: spread * Int64(i) / Int64(count))
            }
        }
        schedule(.warmupEnd, at: warmupEnd)
        if let t = scenario.tracerJoinAt, warmupEnd + t.nanoseconds < endTime {
            schedule(.tracerUpdate, at: warmupEnd + t.nanoseconds)
        }
        for (i, step) in scenario.timeline.enumerated() where warmupEnd + step.at.nanoseconds <= endTime {
            schedule(.timeline(i), at: warmupEnd + step.at.nanoseconds)
        }
        queue.push(time: 0, kind: .check, index: 0)
    }

    mutating func perform(action index: Int) {
        switch actions[index] {
        case let .start(node):
            start(node)
            if node == scenario.nodes - 1 {
                observations.watchConvergence(.bootstrap, from: now)
            }
        case .startConverged:
            startConverged()
            observations.watchConvergence(.bootstrap, from: now)
        case .warmupEnd:
            load = LoadCounters()
            observations.beginMeasuredPeriod(at: now, upNodes: upNodeCount)
            if !observations.isConverged(.bootstrap) {
                let (missing, example) = convergenceGap()
                invariants.violate(.bootstrapConverged, at: now,
                                   "at the end of the warm-up \(missing) (observer, member) pairs still disagree, e.g. \(example)")
            }
        case .tracerUpdate:
            guard let node = pickUp(count: 1).first else { return }
            trace?.line(now, "tracer n\(node) updates its metadata")
            var metadata = nodes[node].core!.local.metadata
            metadata.tags["tracer"] = "\(now)"
            let effects = nodes[node].core!.updateMetadata(metadata, now: MeshTime(nanoseconds: now))
            observations.startTracer(subject: node, incarnation: nodes[node].core!.incarnation, at: now)
            execute(effects, of: node)
            rearm(node)
        case let .timeline(i):
            apply(scenario.timeline[i].action)
        case let .restartNode(node):
            guard nodes[node].state == .crashed else { return }
            start(node)
        case let .pause(targets, length, every, until):
            for node in targets { pause(node, for: length) }
            if let every, now + every < until {
                schedule(.pause(nodes: targets, length: length, every: every, until: until), at: now + every)
            }
        case let .churn(interval, downtime, until):
            if let node = pickUp(count: 1).first { restart(node, after: downtime) }
            if now + interval < until {
                schedule(.churn(interval: interval, downtime: downtime, until: until), at: now + interval)
            }
        }
    }

    /// Applies one step of the scenario's timeline.
    mutating func apply(_ action: FaultAction) {
        trace?.line(now, "action \(action)")
        switch action {
        case let .crash(selection):
            for node in select(selection) { crash(node) }
        case let .restart(selection, downtime):
            for node in select(selection) { restart(node, after: downtime.nanoseconds) }
        case let .leave(selection):
            for node in select(selection) { leave(node) }
        case let .join(count):
            for _ in 0 ..< count where nextJoinSlot < slotCount {
                let node = nextJoinSlot
                nextJoinSlot += 1
                start(node)
            }
        case let .pause(selection, length, every, until):
            let untilTime = until.map { warmupEnd + $0.nanoseconds } ?? endTime
            schedule(.pause(nodes: select(selection), length: length.nanoseconds, every: every?.nanoseconds, until: untilTime),
                     at: now)
        case let .partition(percentages):
            var groups = [Int](repeating: 0, count: slotCount)
            var boundary = 0.0, start = 0
            for (g, p) in percentages.enumerated() {
                boundary += p
                let end = g == percentages.count - 1 ? slotCount : Int((boundary / 100 * Double(slotCount)).rounded())
                for i in start ..< max(start, end) { groups[i] = g }
                start = max(start, end)
            }
            network.partition(groups: groups)
        case let .partitionOneWay(percent):
            let cut = Int((percent / 100 * Double(slotCount)).rounded())
            network.assign(groups: (0 ..< slotCount).map { $0 < cut ? 1 : 0 })
            network.block(fromGroup: 1, toGroup: 0)
        case .heal:
            network.heal()
            observations.partitionHealed(at: now)
            observations.watchConvergence(.heal, from: now)
        case let .loss(rate):
            network.parameters.lossRate = rate
        case let .duplicate(rate):
            network.parameters.duplicateRate = rate
        case let .churn(percentPerMinute, downtime, until):
            let perMinute = max(1, Double(upNodeCount) * percentPerMinute / 100)
            let interval = Int64(60e9 / perMinute)
            let untilTime = until.map { warmupEnd + $0.nanoseconds } ?? endTime
            schedule(.churn(interval: interval, downtime: downtime.nanoseconds, until: untilTime), at: now + interval)
        }
    }

    // MARK: node life cycle

    /// Starts (or restarts) node `i` with a fresh core and joins it through a few live nodes.
    mutating func start(_ i: Int) {
        let seeds = pickUp(count: SimulationLimits.joinSeeds, excluding: i).map { addresses[$0][0] }
        let restarted = nodes[i].lives > 0
        bringUp(i)
        trace?.line(now, "start n\(i) life \(nodes[i].lives) seeds \(seeds)")
        observations.nodeStarted(i, at: now, up: upNodeCount, restarted: restarted, measured: now >= warmupEnd)
        if !seeds.isEmpty {
            let effects = nodes[i].core!.join(seeds, now: MeshTime(nanoseconds: now))
            execute(effects, of: i)
        }
        rearm(i)
    }

    /// `bootstrap converged`: starts every bootstrapping node at once, each core preloaded
    /// with every other one alive at incarnation 0 (what each node's own state is), so the
    /// run begins at steady state without the join storm.
    mutating func startConverged() {
        let count = scenario.nodes
        let alive = (0 ..< count).map { AliveUpdate(id: ids[$0], incarnation: .zero, name: "n\($0)", addresses: addresses[$0], metadata: .init()) }
        for i in 0 ..< count {
            bringUp(i)
            nodes[i].core!.preload(alive, now: MeshTime(nanoseconds: now))
            observations.nodeStarted(i, at: now, up: upNodeCount, restarted: false, measured: false)
        }
        for o in 0 ..< count {
            for s in 0 ..< count where s != o { observations.setView(o, s, Observations.Code.alive, at: now) }
        }
        trace?.line(now, "start n0 ... n\(count - 1) converged")
        for i in 0 ..< count { rearm(i) }
    }

    /// A fresh core for node `i` (its first life's random stream, or a fork for a restart).
    private mutating func bringUp(_ i: Int) {
        let random: SeededRandom
        if nodes[i].lives == 0 { random = nodeRandom[i] } else { random = restartRandom.fork() }
        let local = LocalMember(id: ids[i], name: "n\(i)", addresses: addresses[i])
        nodes[i].core = Membership(local: local, settings: settings, random: random, now: MeshTime(nanoseconds: now))
        nodes[i].state = .running
        nodes[i].pausedUntil = 0
        nodes[i].lives += 1
        nodes[i].wakeSeq = .max
        // A dead verdict about a previous life, or before others learn of it, is no false positive.
        nodes[i].excusedUntil = now + observations.falsePositiveWindow
        upNodeCount += 1
    }

    /// Stops node `i` at once: it processes nothing more and messages to it are dropped.
    mutating func crash(_ i: Int) {
        guard nodes[i].state.isUp else { return }
        trace?.line(now, "crash n\(i)")
        stop(i, as: .crashed)
        nodes[i].excusedUntil = .max
        observations.nodeCrashed(i, at: now)
    }

    mutating func restart(_ i: Int, after downtime: Int64) {
        guard nodes[i].state == .running else { return }
        crash(i)
        schedule(.restartNode(i), at: now + downtime)
    }

    /// Node `i` leaves gracefully; it keeps running until its core reports `.leftMesh`.
    mutating func leave(_ i: Int) {
        guard nodes[i].state == .running else { return }
        trace?.line(now, "leave n\(i)")
        nodes[i].state = .leaving
        nodes[i].excusedUntil = .max
        observations.nodeLeaving(i, at: now)
        let effects = nodes[i].core!.leave(now: MeshTime(nanoseconds: now))
        execute(effects, of: i)
        rearm(i)
    }

    /// Called for `.leftMesh`: the node stops.
    mutating func finishLeaving(_ i: Int) {
        guard nodes[i].state.isUp else { return }
        trace?.line(now, "left n\(i)")
        stop(i, as: .left)
    }

    private mutating func stop(_ i: Int, as state: NodeState) {
        nodes[i].state = state
        nodes[i].core = nil
        nodes[i].wakeSeq = .max
        for slot in nodes[i].backlog { release(slot) }
        nodes[i].backlog = []
        nodes[i].backlogBytes = 0
        nodes[i].pausedUntil = 0
        upNodeCount -= 1
        observations.nodeStopped(i, at: now, up: upNodeCount)
    }

    /// Node `i` receives and processes nothing for `length`, then works off its backlog.
    mutating func pause(_ i: Int, for length: Int64) {
        guard nodes[i].state.isUp else { return }
        let until = max(nodes[i].pausedUntil, now + length)
        nodes[i].pausedUntil = until
        if length >= observations.falsePositivePauseThreshold {
            nodes[i].excusedUntil = max(nodes[i].excusedUntil, until + observations.falsePositiveWindow)
        }
        trace?.line(now, "pause n\(i) until \(until)")
        queue.push(time: until, kind: .resume, index: Int32(i))
    }

    mutating func resume(node i: Int) {
        guard nodes[i].state.isUp, nodes[i].pausedUntil <= now else { return }
        trace?.line(now, "resume n\(i) backlog \(nodes[i].backlog.count)")
        let backlog = nodes[i].backlog
        nodes[i].backlog = []
        nodes[i].backlogBytes = 0
        for slot in backlog {
            if nodes[i].state.isUp { receive(slot: slot) } else { release(slot) }
        }
        rearm(i)
    }

    // MARK: choosing nodes

    /// Running nodes chosen by a selection, at random (with the fault stream) for counts and
    /// percentages.
    mutating func select(_ selection: NodeSelection) -> [Int] {
        switch selection {
        case let .node(i):
            return i < slotCount && nodes[i].state == .running ? [i] : []
        case let .count(n):
            return pickUp(count: n)
        case let .percent(p):
            let eligible = nodes.indices.filter { nodes[$0].state == .running }
            return pickUp(count: Int((p / 100 * Double(eligible.count)).rounded()))
        }
    }

    /// Up to `count` distinct running nodes, uniformly at random.
    mutating func pickUp(count: Int, excluding: Int = -1) -> [Int] {
        guard count > 0 else { return [] }
        var eligible = nodes.indices.filter { $0 != excluding && nodes[$0].state == .running }
        let k = min(count, eligible.count)
        for j in 0 ..< k {
            let r = j + Int(faultRandom.next() % UInt64(eligible.count - j))
            eligible.swapAt(j, r)
        }
        return Array(eligible.prefix(k))
    }
}
