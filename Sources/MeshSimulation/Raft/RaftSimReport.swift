import Consensus
import MeshCore

/// What a Raft simulation run measured and checked. Identical for identical seeds.
public struct RaftSimReport: Sendable {
    public var scenario: String
    public var seed: UInt64
    public var nodes: Int
    public var simulatedSeconds: Double
    public var metrics: [(RaftMetric, Double)]
    /// (name, nil when it holds, else the first violation).
    public var invariants: [(String, String?)]
    public var expectations: [(RaftExpectation, Double?, Bool)]
    public var commitIndex: UInt64
    public var crashes: Int
    public var messages: Int
    /// Messages the senders' kernels refused on cut links (each lost, the sender carrying on).
    public var sendsRefused: Int
    public var failover: Summary?
    public var stepDown: Summary?

    public var passed: Bool { invariants.allSatisfy { $0.1 == nil } && expectations.allSatisfy(\.2) }

    public func value(_ m: RaftMetric) -> Double? { metrics.first { $0.0 == m }?.1 }

    public func text(wallSeconds: Double?) -> String {
        var out = "scenario \(scenario)  seed \(seed)  nodes \(nodes)  simulated \(Report.format(simulatedSeconds)) s"
        if let wallSeconds { out += "  wall \(Report.format(wallSeconds)) s" }
        out += "\ncommit index \(commitIndex)  crashes \(crashes)  messages \(messages)  sends refused \(sendsRefused)\n"
        if let f = failover { out += "failover (leader hit -> new leader commits): median \(Report.format(f.median)) s, max \(Report.format(f.max)) s over \(f.count)\n" }
        if let s = stepDown { out += "isolated leader steps down: median \(Report.format(s.median)) s, max \(Report.format(s.max)) s over \(s.count)\n" }
        out += "metrics:\n"
        for (m, v) in metrics { out += "  \(m.rawValue) \(Report.format(v))\n" }
        out += "invariants:\n"
        for (name, failure) in invariants { out += "  \(name): \(failure.map { "FAIL \($0)" } ?? "pass")\n" }
        if !expectations.isEmpty {
            out += "expectations:\n"
            for (e, v, ok) in expectations { out += "  \(e): measured \(v.map(Report.format) ?? "none") \(ok ? "pass" : "FAIL")\n" }
        }
        out += passed ? "PASS" : "FAIL (reproduce: meshsim run \(scenario) --seed \(seed))"
        return out
    }

    public func json(wallSeconds: Double?) -> String {
        var o = JSONObject()
        o.add("scenario", string: scenario); o.add("engine", string: "raft"); o.add("seed", int: seed); o.add("nodes", int: nodes)
        o.add("simulated_seconds", simulatedSeconds); o.add("commit_index", int: commitIndex); o.add("crashes", int: crashes)
        o.add("messages", int: messages); o.add("sends_refused", int: sendsRefused); o.add("passed", bool: passed)
        if let wallSeconds { o.add("wall_seconds", wallSeconds) }
        o.add("metrics", .object(Dictionary(metrics.map { ($0.0.rawValue, JSONValue.measured($0.1)) }) { a, _ in a }))
        o.add("invariants", .object(Dictionary(invariants.map { ($0.0, JSONValue.string($0.1.map { "fail: \($0)" } ?? "pass")) }) { a, _ in a }))
        return o.rendered
    }
}

extension RaftSimulation {
    func report() -> RaftSimReport {
        // After the heal and the settle period every acknowledged write must be on every
        // running member of the final configuration, applied, at its index.
        let leader = leaderSlot.flatMap { nodes[$0].core }
        let members = Set((leader?.voters ?? []) + (leader?.configuration.learners ?? []))
        let holders = nodes.compactMap { n in n.core.flatMap { members.contains($0.id) ? $0 : nil } }
        var lost = 0
        var firstLost: String?
        for a in acks {
            let k = Int(a.index.value) - 1
            let ok = safety.holds(index: a.index, term: a.term, command: a.command) && holders.allSatisfy { c in
                c.applied >= a.index && (a.index <= c.snapshotIndex || c.entry(at: a.index).map { $0.term == a.term && $0.command == a.command } == true)
            }
            if !ok { lost += 1; if firstLost == nil { firstLost = "acknowledged \(a.index)@\(a.term) missing after heal" } }
        }
        var metrics: [(RaftMetric, Double)] = [
            (.elections, Double(elections)), (.leaderChanges, Double(leaderChanges)),
            (.acknowledgedWrites, Double(acks.count)), (.lostWrites, Double(lost)),
            (.corruptionsDetected, Double(corruptions)), (.refilledNodes, Double(refilled)),
            (.voterReplacements, Double(voterAdds)), (.snapshotsInstalled, Double(snapshotsInstalled)),
        ]
        let failover = Summary(failovers), stepDown = Summary(stepDowns)
        if let failover { metrics += [(.failoverMedianSeconds, failover.median), (.failoverMaxSeconds, failover.max)] }
        if let stepDown { metrics.append((.stepDownMaxSeconds, stepDown.max)) }
        let invariants: [(String, String?)] = [
            ("raft_safety", safety.violations.first.map { "\($0) (\(safety.violationCount) violations)" }),
            ("acknowledged_writes_survive", firstLost.map { "\($0) (\(lost) writes)" }),
            ("leader_after_heal", leader == nil ? "no leader at the end of the settle period" : nil),
            ("measurement_finished", openFailover != nil || openStepDown != nil ? "a failover or step-down never completed" : nil),
        ]
        let expectations = scenario.expectations.map { e -> (RaftExpectation, Double?, Bool) in
            let v = metrics.first { $0.0 == e.metric }?.1
            return (e, v, v.map(e.holds) ?? false)
        }
        return RaftSimReport(scenario: scenario.name, seed: seed, nodes: nodes.count, simulatedSeconds: Double(now) / 1e9,
                             metrics: metrics, invariants: invariants, expectations: expectations,
                             commitIndex: safety.committed.count == 0 ? 0 : UInt64(safety.committed.count),
                             crashes: crashes, messages: messagesSent, sendsRefused: sendsRefused, failover: failover, stepDown: stepDown)
    }
}
