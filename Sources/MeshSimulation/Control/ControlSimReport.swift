import Foundation
import MeshWire

/// The outcome of a control-replica run: how far behind the leader's commits the members'
/// replicas applied, what the leader sent per commit (Raft, the event log's sends it
/// originates, state fetches it answered), and the invariants. Identical for identical
/// seeds apart from the wall time.
///
/// Lag: for each index the leader committed in the measured period, and each other node,
/// the time from the leader's commit to that node's replica applying it (`lags`, one
/// sample per (node, index)). Leader cost: every message the measured leader sent while
/// the measured period ran, divided by the indexes it committed in it.
public struct ControlSimReport: Sendable {
    public let scenario: ControlScenario
    public let seed: UInt64
    let nodesOverride: Int?
    public let nodes: Int
    public let simulatedSeconds: Double
    public let commits: Int
    /// (node, index) lag samples in nanoseconds, sorted.
    let lags: [Int64]
    /// What the measured leader sent, by message kind: (kind, messages, bytes).
    public let leaderSent: [(kind: String, messages: Int, bytes: Int)]
    /// Every node's sends in the measured period.
    public let totalMessages: Int, totalBytes: Int
    public let repairs: Int
    public let writesRefused: Int
    public let statesChecked: Int
    public let distinctDigests: Int
    public let leader: Int?
    public let violations: [ControlViolation]
    public let violationCount: [ControlInvariant: Int]

    init(simulation s: ControlSimulation, leader: Int?, distinctDigests: Int) {
        scenario = s.scenario; seed = s.seed; nodesOverride = s.nodesOverride; nodes = s.nodes.count
        simulatedSeconds = Double(s.now) / 1e9
        commits = s.measured.map { $0.count } ?? 0
        lags = s.lags.sorted()
        leaderSent = s.leaderSent.map { (kind: "\($0.key)", messages: $0.value.messages, bytes: $0.value.bytes) }
            .sorted { $0.kind < $1.kind }
        totalMessages = s.totalMessages; totalBytes = s.totalBytes
        repairs = s.repairs; writesRefused = s.writesRefused; statesChecked = s.statesChecked
        self.distinctDigests = distinctDigests; self.leader = leader
        violations = s.violations; violationCount = s.violationCount
    }

    func percentile(_ p: Double) -> Double? {
        guard !lags.isEmpty else { return nil }
        let i = min(lags.count - 1, Int((Double(lags.count) * p).rounded(.up)) - 1)
        return Double(lags[max(0, i)]) / 1e9
    }

    public var leaderMessages: Int { leaderSent.reduce(0) { $0 + $1.messages } }
    public var leaderBytes: Int { leaderSent.reduce(0) { $0 + $1.bytes } }

    public func value(_ m: ControlMetric) -> Double? {
        switch m {
        case .commits: Double(commits)
        case .lagP50Seconds: percentile(0.5)
        case .lagP99Seconds: percentile(0.99)
        case .lagMaxSeconds: lags.last.map { Double($0) / 1e9 }
        case .leaderMessagesPerCommit: commits == 0 ? nil : Double(leaderMessages) / Double(commits)
        case .leaderBytesPerCommit: commits == 0 ? nil : Double(leaderBytes) / Double(commits)
        case .repairs: Double(repairs)
        case .writesRefused: Double(writesRefused)
        }
    }

    /// Each invariant: nil when it held, else its first violation.
    public var invariants: [(ControlInvariant, String?)] {
        ControlInvariant.allCases.map { inv in
            let first = violations.first { $0.invariant == inv }
            return (inv, first.map { "at \(Report.format($0.atSeconds)) s: \($0.detail) (\(violationCount[inv] ?? 0) violations)" })
        }
    }

    /// Each bound with its measured value and whether it holds (a value not measured fails).
    public var bounds: [(ControlExpectation, Double?, Bool)] {
        scenario.expectations.map { b in
            let v = value(b.metric)
            return (b, v, v.map(b.holds) ?? false)
        }
    }

    public var passed: Bool { violations.isEmpty && commits > 0 && bounds.allSatisfy(\.2) }

    var reproduce: String { "meshsim run \(scenario.name) --seed \(seed)" + (nodesOverride.map { " --nodes \($0)" } ?? "") }

    public func text(wallSeconds: Double?) -> String {
        var out = "scenario \(scenario.name)  engine control  seed \(seed)  nodes \(nodes)  voters \(scenario.voters)  distribute \(scenario.distribution.rawValue)  simulated \(Report.format(simulatedSeconds)) s"
        if let wallSeconds { out += "  wall \(Report.format(wallSeconds)) s" }
        out += "\ncommits in the measured period \(commits)  writes refused \(writesRefused)  leader n\(leader.map(String.init) ?? "-")\n"
        out += "lag (leader commit -> a member's replica applies), \(lags.count) samples: p50 \(percentile(0.5).map(Report.format) ?? "-") s, p99 \(percentile(0.99).map(Report.format) ?? "-") s, max \(value(.lagMaxSeconds).map(Report.format) ?? "-") s (bound \(scenario.lagBound))\n"
        out += "leader per commit: \(value(.leaderMessagesPerCommit).map(Report.format) ?? "-") messages, \(value(.leaderBytesPerCommit).map(Report.format) ?? "-") bytes\n"
        for k in leaderSent {
            out += "  \(k.kind): \(k.messages) messages, \(k.bytes) bytes\n"
        }
        out += "all nodes: \(totalMessages) messages, \(totalBytes) bytes  state fetches \(repairs)  states compared \(statesChecked)  distinct end states \(distinctDigests)\n"
        out += "invariants:\n"
        for (inv, failure) in invariants { out += "  \(inv.rawValue): \(failure.map { "FAIL \($0)" } ?? "pass")\n" }
        if !bounds.isEmpty {
            out += "expectations:\n"
            for (b, v, ok) in bounds { out += "  \(b): measured \(v.map(Report.format) ?? "none") \(ok ? "pass" : "FAIL")\n" }
        }
        out += passed ? "PASS" : "FAIL (reproduce: \(reproduce))"
        return out
    }

    public func json(wallSeconds: Double?) -> String {
        var o = JSONObject()
        o.add("scenario", string: scenario.name); o.add("engine", string: "control"); o.add("seed", int: seed); o.add("nodes", int: nodes)
        o.add("voters", int: scenario.voters); o.add("distribute", string: scenario.distribution.rawValue)
        o.add("simulated_seconds", simulatedSeconds); o.add("passed", bool: passed)
        if let wallSeconds { o.add("wall_seconds", wallSeconds) }
        o.add("metrics", .object(Dictionary(ControlMetric.allCases.compactMap { m in value(m).map { (m.rawValue, JSONValue.measured($0)) } }) { a, _ in a }))
        o.add("leader_sent", .object(Dictionary(leaderSent.map {
            ($0.kind, JSONValue.object(["messages": .integer($0.messages), "bytes": .integer($0.bytes)]))
        }) { a, _ in a }))
        o.add("invariants", .object(Dictionary(invariants.map { ($0.0.rawValue, JSONValue.string($0.1.map { "fail: \($0)" } ?? "pass")) }) { a, _ in a }))
        return o.rendered
    }
}
