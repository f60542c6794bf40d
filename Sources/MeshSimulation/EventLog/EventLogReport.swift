import Foundation

/// The outcome of an event-log run: dissemination latency, convergence and catch-up
/// times, replication bytes against the raw event bytes, invariants and bounds.
///
/// Bytes ratio: every replication message's encoded body (pushes, digests, batches and
/// the tree's IHAVE/GRAFT/PRUNE,
/// as `ReplicationMessage.encoded` lays them out) plus the sealed frame's overhead,
/// whether or not the network delivered it, divided by the encoded bytes of every event
/// stored by a node other than its origin (each event counted once per node that needed it).
public struct EventLogReport {
    public let scenario: EventLogScenario
    public let seed: UInt64
    public let nodes: Int
    public let events: Int
    /// Append → the last live node, in nanoseconds, sorted; only events that spread while
    /// no fault was active.
    let latencies: [Int64]
    /// The same samples by the time they were appended (`LatencyWindow.bounds`): where the
    /// slow ones are (a start-up, a fault, the steady state).
    public let latencyWindows: [LatencyWindow]
    public let unmeasured: Int
    public let distinctDigests: Int
    public let metrics: EventLogMetrics
    public let violations: [EventLogViolation]
    public let network: NetworkCounters

    func percentile(_ p: Double) -> Double? {
        guard !latencies.isEmpty else { return nil }
        let i = min(latencies.count - 1, Int((Double(latencies.count) * p).rounded(.up)) - 1)
        return Double(latencies[max(0, i)]) / 1e9
    }

    public var convergenceSeconds: Double? { metrics.watches.filter { !$0.2 }.map(\.1).max() }
    public var catchUpSeconds: Double? { metrics.watches.filter { $0.2 }.map(\.1).max() }
    public var bytesRatio: Double? {
        metrics.rawEventBytesDelivered == 0 ? nil : Double(metrics.replicationBytes) / Double(metrics.rawEventBytesDelivered)
    }

    public func value(_ m: EventLogBound.Metric) -> Double? {
        switch m {
        case .latencyP50Seconds: percentile(0.5)
        case .latencyP99Seconds: percentile(0.99)
        case .latencyMaxSeconds: latencies.last.map { Double($0) / 1e9 }
        case .convergenceSeconds: convergenceSeconds
        case .catchUpSeconds: catchUpSeconds
        case .bytesRatio: bytesRatio
        }
    }

    /// Each bound with its measured value and whether it holds (a value not measured fails).
    public var bounds: [(EventLogBound, Double?, Bool)] {
        scenario.expectations.map { b in
            let v = value(b.metric)
            return (b, v, v.map(b.holds) ?? false)
        }
    }

    public var passed: Bool { violations.isEmpty && bounds.allSatisfy(\.2) }

    /// One line per append-time window: samples, p50 / p99 / max, and how many took longer
    /// than the whole run's p99.
    var windowLines: String {
        let p99 = value(.latencyP99Seconds) ?? 0
        var lines = "  latency by append time (s): samples, p50 / p99 / max, samples over the run's p99"
        for w in latencyWindows {
            let span = "\(Report.format(Double(w.from) / 1e9))-\(w.to.map { Report.format(Double($0) / 1e9) } ?? "end")"
            let slow = w.latencies.count - (w.latencies.firstIndex { Double($0) / 1e9 > p99 } ?? w.latencies.count)
            lines += "\n      \(span): \(w.latencies.count), \(Report.format(w.percentile(0.5))) / \(Report.format(w.percentile(0.99))) / \(Report.format(w.percentile(1))), \(slow)"
        }
        return lines
    }

    public func text(wallSeconds: Double?) -> String {
        func f(_ x: Double?) -> String { x.map(Report.format) ?? "-" }
        var out = """
        scenario \(scenario.name) (engine eventlog)  seed \(seed)  nodes \(nodes)
          events appended \(events) (refused while refilling: \(metrics.appendsRefused))
          measured after \(Report.format(Double(scenario.measureAfter.nanoseconds) / 1e9)) s (latency of later appends; bytes sent and delivered later)
          latency append -> last live node: p50 \(f(percentile(0.5))) s  p99 \(f(percentile(0.99))) s  max \(f(value(.latencyMaxSeconds))) s  (\(latencies.count) samples, \(unmeasured) spread during faults)
        \(windowLines)
          convergence after heal \(f(convergenceSeconds)) s  catch-up after restart \(f(catchUpSeconds)) s
        """
        for w in metrics.watches { out += "\n    \(w.0): \(Report.format(w.1)) s" }
        let mb = { (b: Int) in Report.format(Double(b) / 1e6) }
        out += """

          replication bytes \(mb(metrics.replicationBytes)) MB (push \(mb(metrics.pushBytes)), digest \(mb(metrics.digestBytes)), batch \(mb(metrics.batchBytes)), ihave/graft/prune \(mb(metrics.treeBytes))) / raw event bytes delivered \(mb(metrics.rawEventBytesDelivered)) MB = \(f(bytesRatio))
          messages: push \(metrics.pushMessages), digest \(metrics.digestMessages), batch \(metrics.batchMessages), ihave/graft/prune \(metrics.treeMessages); dropped by the network \(network.dropped.reduce(0, +)), at down nodes \(metrics.droppedAtDownNodes)
          final digests: \(distinctDigests) distinct among live nodes
        """
        out += "\ninvariants:"
        for inv in EventLogInvariant.allCases {
            let n = metrics.violationCount[inv] ?? 0
            out += "\n  \(n == 0 ? "ok  " : "FAIL") \(inv.rawValue)\(n == 0 ? "" : " (\(n))")"
        }
        for v in violations { out += "\n    at \(Report.format(v.atSeconds)) s: \(v.detail)" }
        if !bounds.isEmpty { out += "\nbounds:" }
        for (b, v, ok) in bounds { out += "\n  \(ok ? "ok  " : "FAIL") \(b) (measured \(f(v)))" }
        if let wallSeconds { out += "\nwall time \(Report.format(wallSeconds)) s" }
        out += "\n\(passed ? "PASS" : "FAIL") (seed \(seed); rerun: meshsim run \(scenario.name) --seed \(seed)\(nodes == scenario.nodes ? "" : " --nodes \(nodes)"))"
        return out
    }

    public func json(wallSeconds: Double?) -> String {
        var o = JSONObject()
        o.add("scenario", string: scenario.name); o.add("engine", string: "eventlog")
        o.add("seed", int: seed); o.add("nodes", int: nodes); o.add("events", int: events); o.add("passed", bool: passed)
        o.add("distinct_digests", int: distinctDigests); o.add("unmeasured_events", int: unmeasured)
        o.add("measure_after_seconds", scenario.measureAfter.seconds)
        o.add("replication_bytes", int: metrics.replicationBytes); o.add("push_bytes", int: metrics.pushBytes)
        o.add("digest_bytes", int: metrics.digestBytes); o.add("batch_bytes", int: metrics.batchBytes)
        o.add("tree_bytes", int: metrics.treeBytes); o.add("raw_event_bytes_delivered", int: metrics.rawEventBytesDelivered)
        o.add("violations", .array(violations.map { .string("\($0.invariant.rawValue) at \($0.atSeconds) s: \($0.detail)") }))
        for m in EventLogBound.Metric.allCases { if let v = value(m) { o.add(m.rawValue, v) } }
        if let wallSeconds { o.add("wall_seconds", wallSeconds) }
        return o.rendered
    }
}


/// The latency samples of the events appended in `from..<to` (ns of virtual time; `to` nil:
/// to the end of the appends), sorted.
public struct LatencyWindow: Sendable {
    public let from: Int64
    public let to: Int64?
    let latencies: [Int64]

    public var count: Int { latencies.count }

    /// The `p` quantile in seconds (1: the max); 0 when empty.
    public func percentile(_ p: Double) -> Double {
        guard !latencies.isEmpty else { return 0 }
        let i = min(latencies.count - 1, Int((Double(latencies.count) * p).rounded(.up)) - 1)
        return Double(latencies[max(0, i)]) / 1e9
    }

    /// Window starts from `start` to `end`: 1 s, 1 s, 2 s, 4 s, ... wide (doubling, so a
    /// start-up is seen second by second and a 10-minute run in a dozen lines).
    static func bounds(from start: Int64, to end: Int64) -> [Int64] {
        var out: [Int64] = [start]
        var width: Int64 = 1_000_000_000
        var t = start + width
        while t < end {
            out.append(t)
            if out.count > 2 { width *= 2 }
            t += width
        }
        return out
    }
}
