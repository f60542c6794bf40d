import Foundation
import Scheduler

/// What a scheduler run measured and checked. Identical for identical seeds, apart from the
/// leader's plan times (present only when the run had a `planClock`).
public struct SchedulerSimReport: Sendable {
    public struct Watch: Sendable {
        public var label: String
        public var total: Int
        public var done: Int
        public var seconds: Summary?
    }

    public var scenario: SchedulerScenario
    public var seed: UInt64
    public var nodes: Int
    public var workloads: Int
    public var instancesWanted: Int
    public var simulatedSeconds: Double
    public var counters: SchedulerSimMetrics
    public var moves: [Watch]
    public var joins: [Watch]
    public var settled: [(label: String, seconds: Double?, allRunningSeconds: Double?)]
    /// The last round's pending slots, by reason (most first).
    public var pendingReasons: [(reason: String, slots: Int)]
    public var metrics: [(SchedulerMetric, Double)]
    public var violations: [SchedulerViolation]
    public var violationCount: [SchedulerInvariant: Int]

    init(simulation s: SchedulerSimulation, running: Int) {
        scenario = s.scenario
        seed = s.seed
        reproduce = "meshsim run \(s.scenario.name) --seed \(s.seed)" + (s.nodesOverride.map { " --nodes \($0)" } ?? "")
        nodes = s.nodes.count
        workloads = s.specs.count
        instancesWanted = s.specs.reduce(0) { $0 + $1.count }
        simulatedSeconds = Double(s.now) / 1e9
        counters = s.metrics
        func watch(_ w: SchedulerSimulation.MoveWatch) -> Watch {
            Watch(label: w.label, total: w.total, done: w.samples.count, seconds: Summary(w.samples))
        }
        moves = s.moveWatches.filter { !$0.isJoin }.map(watch)
        joins = s.moveWatches.filter(\.isJoin).map(watch)
        settled = s.settleWatches.map { ($0.label, $0.seconds, $0.allRunningSeconds) }
        var reasons: [String: Int] = [:]
        for p in s.lastPending { reasons[p.reason, default: 0] += 1 }
        pendingReasons = reasons.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map { ($0.key, $0.value) }
        violations = s.violations
        violationCount = s.violationCount

        var m: [(SchedulerMetric, Double)] = []
        let moveSamples = s.moveWatches.filter { !$0.isJoin }.flatMap(\.samples)
        if !s.moveWatches.filter({ !$0.isJoin }).isEmpty {
            if let summary = Summary(moveSamples) {
                m += [(.crashMovedMaxSeconds, summary.max), (.crashMovedMedianSeconds, summary.median)]
            }
            m.append((.crashUnmoved, Double(s.moveWatches.filter { !$0.isJoin }.reduce(0) { $0 + $1.remaining.count })))
        }
        if !joins.isEmpty {
            let samples = s.moveWatches.filter(\.isJoin).flatMap(\.samples)
            if let max = samples.max() { m.append((.joinPlacedMaxSeconds, max)) }
            m.append((.joinPlaced, Double(samples.count)))
        }
        if let heal = s.healAt {
            m.append((.healDuplicatesGoneSeconds, Double((s.metrics.lastDuplicateEndAfterHeal ?? heal) - heal) / 1e9))
            m.append((.duplicatesAtHeal, Double(s.metrics.duplicatesAtHeal)))
        }
        if !settled.isEmpty, settled.allSatisfy({ $0.seconds != nil }) {
            m.append((.settledAfterFaultMaxSeconds, settled.compactMap(\.seconds).max()!))
        }
        if !settled.isEmpty, settled.allSatisfy({ $0.allRunningSeconds != nil }) {
            m.append((.allRunningAfterFaultMaxSeconds, settled.compactMap(\.allRunningSeconds).max()!))
        }
        if let first = s.metrics.firstSettledAt { m.append((.firstSettledSeconds, Double(first) / 1e9)) }
        m += [(.instancesPlaced, Double(s.metrics.placed)), (.instancesRunningAtEnd, Double(running)),
              (.pendingAtEnd, Double(s.lastPending.count)), (.leaderChanges, Double(s.metrics.leaderChanges)),
              (.uncommittedCommands, Double(s.metrics.uncommittedCommands))]
        metrics = m
    }

    public func value(_ metric: SchedulerMetric) -> Double? { metrics.first { $0.0 == metric }?.1 }

    public var expectations: [(SchedulerExpectation, Double?, Bool)] {
        scenario.expectations.map { e in
            let v = value(e.metric)
            return (e, v, v.map(e.holds) ?? false)
        }
    }

    public var passed: Bool { violations.isEmpty && expectations.allSatisfy(\.2) }

    /// The leader's wall time per `Scheduler.plan` call, in milliseconds: the first round
    /// (which places everything), then the median, p99 and max of all rounds.
    public var planMilliseconds: (first: Double, median: Double, p99: Double, max: Double, rounds: Int)? {
        let ms = counters.planDurations.map { Double($0.components.seconds) * 1e3 + Double($0.components.attoseconds) / 1e15 }
        guard let first = ms.first else { return nil }
        let sorted = ms.sorted()
        func q(_ p: Double) -> Double { sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)] }
        return (first, q(0.5), q(0.99), sorted.last!, sorted.count)
    }

    /// The command that runs this again.
    public let reproduce: String

    /// The human report; plan times and wall time only when `wallSeconds` is given.
    public func text(wallSeconds: Double?) -> String {
        func f(_ x: Double?) -> String { x.map(Report.format) ?? "-" }
        let c = counters
        var out = "scenario \(scenario.name) (engine sched)  seed \(seed)  nodes \(nodes)  simulated \(Report.format(simulatedSeconds)) s"
        out += "\n  workloads \(workloads), \(instancesWanted) instances wanted; placed \(c.placed), started \(c.starts), running at end \(f(value(.instancesRunningAtEnd))), pending at end \(f(value(.pendingAtEnd)))"
        out += "\n  rounds \(c.rounds) (\(c.roundsWithChanges) with changes, \(c.settledChecks) settled checks); leader changes \(c.leaderChanges); uncommitted commands \(c.uncommittedCommands)"
        let stops = c.stops.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        out += "\n  stops: \(stops.isEmpty ? "none" : stops); stopped after disconnect \(c.disconnectStops), restarted after reconnect \(c.restartsAfterDisconnect)"
        if let p = planMilliseconds, wallSeconds != nil {
            out += "\n  leader CPU per round (Scheduler.plan wall time): first \(Report.format(p.first)) ms, median \(Report.format(p.median)) ms, p99 \(Report.format(p.p99)) ms, max \(Report.format(p.max)) ms over \(p.rounds) rounds"
        }
        for w in moves {
            out += "\n  \(w.label): \(w.total) instances lost, \(w.done) running elsewhere"
            if let s = w.seconds { out += " after median \(Report.format(s.median)) s, max \(Report.format(s.max)) s" }
        }
        for w in joins {
            out += "\n  \(w.label): \(w.total) slots pending before, \(w.done) of them running"
            if let s = w.seconds { out += " after max \(Report.format(s.max)) s" }
        }
        if let d = value(.duplicatesAtHeal) {
            out += "\n  heal: \(Int(d)) slots with two running instances; the last stopped \(f(value(.healDuplicatesGoneSeconds))) s after the heal"
        }
        for s in settled {
            out += "\n  \(s.label): settled after \(s.seconds.map { "\(Report.format($0)) s" } ?? "never"), nothing pending after \(s.allRunningSeconds.map { "\(Report.format($0)) s" } ?? "never")"
        }
        for (reason, n) in pendingReasons.prefix(5) { out += "\n  pending \(n): \(reason)" }
        if pendingReasons.count > 5 { out += "\n  pending: \(pendingReasons.count - 5) more reasons" }
        out += "\nmetrics:"
        for (m, v) in metrics { out += "\n  \(m.rawValue) \(Report.format(v))" }
        out += "\ninvariants:"
        for inv in SchedulerInvariant.allCases {
            let n = violationCount[inv] ?? 0
            out += "\n  \(n == 0 ? "ok  " : "FAIL") \(inv.rawValue)\(n == 0 ? "" : " (\(n))")"
        }
        for v in violations { out += "\n    at \(Report.format(v.atSeconds)) s: \(v.invariant.rawValue): \(v.detail)" }
        if !expectations.isEmpty { out += "\nbounds:" }
        for (e, v, ok) in expectations { out += "\n  \(ok ? "ok  " : "FAIL") \(e) (measured \(f(v)))" }
        if let wallSeconds { out += "\nwall time \(Report.format(wallSeconds)) s" }
        out += "\n\(passed ? "PASS" : "FAIL") (seed \(seed); rerun: \(reproduce))"
        return out
    }

    /// One JSON object; `plan_ms` and `wall_seconds` only when `wallSeconds` is given.
    public func json(wallSeconds: Double?) -> String {
        var o = JSONObject()
        o.add("scenario", string: scenario.name); o.add("engine", string: "sched")
        o.add("seed", int: seed); o.add("nodes", int: nodes); o.add("workloads", int: workloads)
        o.add("instances_wanted", int: instancesWanted); o.add("simulated_seconds", simulatedSeconds); o.add("passed", bool: passed)
        o.add("rounds", int: counters.rounds); o.add("rounds_with_changes", int: counters.roundsWithChanges)
        o.add("starts", int: counters.starts); o.add("stops", .object(counters.stops.mapValues(JSONValue.integer)))
        o.add("disconnect_stops", int: counters.disconnectStops); o.add("restarts_after_disconnect", int: counters.restartsAfterDisconnect)
        o.add("settled", .array(settled.map {
            .object(["action": .string($0.label), "seconds": .measured($0.seconds), "all_running_seconds": .measured($0.allRunningSeconds)])
        }))
        o.add("pending", .array(pendingReasons.map { .object(["reason": .string($0.reason), "slots": .integer($0.slots)]) }))
        o.add("metrics", .object(Dictionary(uniqueKeysWithValues: metrics.map { ($0.0.rawValue, JSONValue.measured($0.1)) })))
        o.add("invariants", .object(Dictionary(uniqueKeysWithValues: SchedulerInvariant.allCases.map { ($0.rawValue, JSONValue.integer(violationCount[$0] ?? 0)) })))
        o.add("violations", .array(violations.map { .string("\($0.invariant.rawValue) at \($0.atSeconds) s: \($0.detail)") }))
        o.add("reproduce", string: reproduce)
        if let wallSeconds {
            o.add("wall_seconds", wallSeconds)
            if let p = planMilliseconds {
                o.add("plan_ms", .object(["first": .measured(p.first), "median": .measured(p.median), "p99": .measured(p.p99),
                                          "max": .measured(p.max), "rounds": .integer(p.rounds)]))
            }
        }
        return o.rendered
    }
}
