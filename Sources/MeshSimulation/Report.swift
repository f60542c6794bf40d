import Foundation
import Membership
import MeshCore
import MeshWire

/// A median and a maximum over a set of samples (seconds).
public struct Summary: Sendable, Equatable {
    public var count: Int
    public var median: Double
    public var max: Double

    init?(_ samples: [Double]) {
        guard !samples.isEmpty else { return nil }
        let s = samples.sorted()
        count = s.count
        median = s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
        max = s[s.count - 1]
    }
}

/// Everything a run measured and checked. Identical for identical seeds; `wall_seconds` is
/// supplied by the caller when rendering, since the engine never reads a clock.
public struct SimulationReport: Sendable {
    public var scenario: String
    public var seed: UInt64
    public var nodes: Int
    public var profile: String
    public var simulatedSeconds: Double
    public var measuredSeconds: Double
    public var nodeHours: Double

    public var messages: Int
    public var bytes: Int
    public var messagesPerNodeSecond: Double
    public var bytesPerNodeSecond: Double
    /// (kind, messages, bytes) over the measured period.
    public var byKind: [(kind: String, messages: Int, bytes: Int)]
    public var network: NetworkCounters

    public var crashes: Int
    public var undetectedCrashes: Int
    public var detectionFirst: Summary?
    public var detectionLast: Summary?
    public var detectionLast999: Summary?
    public var memberlistBoundSeconds: Double
    public var detectionRatio: Double?
    public var leaves: Int
    public var leaveSeconds: Summary?
    public var leavesSeenAsDead: Int
    public var joins: Summary?
    public var rejoins: Summary?

    public var falsePositives: Int
    public var falsePositiveDeclarations: Int
    public var falsePositivesPer1000NodeHours: Double
    public var firstFalsePositive: String?
    public var partitionVerdicts: Int

    public var dissemination999Seconds: Double?
    public var dissemination100Seconds: Double?
    public var bootstrapConvergeSeconds: Double?
    public var healConvergeSeconds: Double?

    public var vivaldiPairs: Int
    public var vivaldiMedianError: Double?

    public var coreMetrics: MembershipMetrics
    public var wakeStalls: Int

    public var metrics: [(metric: ExpectedBound.Metric, value: Double?)]
    /// (name, nil for pass or the first violation).
    public var invariants: [(name: String, violation: String?)]

    public var passed: Bool { invariants.allSatisfy { $0.violation == nil } }

    public func value(_ metric: ExpectedBound.Metric) -> Double? {
        metrics.first { $0.metric == metric }?.value ?? nil
    }
}

/// Formatting helpers and the memberlist bound.
public enum Report {
    /// memberlist's LAN defaults (`DefaultLANConfig`), the yardstick for detection time.
    public static let memberlistProbeIntervalSeconds = 1.0
    public static let memberlistProbeTimeoutSeconds = 0.5
    public static let memberlistSuspicionMultiplier = 4.0
    public static let memberlistGossipIntervalSeconds = 0.2
    public static let memberlistGossipFanout = 3.0

    /// The time memberlist's LAN defaults take, for `nodes` members, until every member
    /// knows of a crash: one probe interval until the dead node is probed, the probe timeout,
    /// the suspicion timeout `4 × log10(N) × probeInterval`, and the gossip rounds
    /// (`ceil(log_3 N)` rounds of 200 ms, fan-out 3) to spread the verdict.
    public static func memberlistBound(nodes: Int) -> Double {
        let n = Double(max(nodes, 2))
        return memberlistProbeIntervalSeconds + memberlistProbeTimeoutSeconds
            + memberlistSuspicionMultiplier * log10(n) * memberlistProbeIntervalSeconds
            + memberlistGossipIntervalSeconds * (log(n) / log(memberlistGossipFanout)).rounded(.up)
    }

    /// Nanoseconds as seconds with 6 decimals.
    public static func seconds(_ nanoseconds: Int64) -> String { String(format: "%.6f", Double(nanoseconds) / 1e9) }

    /// A number rounded to 4 decimals, without a trailing `.0` for whole numbers.
    public static func format(_ x: Double) -> String {
        guard x.isFinite else { return x.isNaN ? "null" : (x > 0 ? "1e999" : "-1e999") }
        let r = (x * 10_000).rounded() / 10_000
        if r == r.rounded(), abs(r) < 1e15 { return String(Int64(r)) }
        return String(format: "%.4f", r).replacingOccurrences(of: #"0+$"#, with: "", options: .regularExpression)
    }
}

extension Simulation {
    /// Ends the run: final checks, measurements and expectations.
    mutating func finish() -> SimulationReport {
        observations.upCountChanged(at: now, up: upNodeCount)
        finalChecks()
        let ns = 1e9
        let measuredSeconds = Double(endTime - warmupEnd) / ns
        let nodeSeconds = observations.nodeNanoseconds / ns
        let nodeHours = nodeSeconds / 3600

        var first: [Double] = [], last: [Double] = [], last999: [Double] = []
        var crashes = 0, undetected = 0
        var leaves: [Double] = [], joins: [Double] = [], rejoins: [Double] = []
        var leaveCount = 0
        for e in observations.episodes {
            switch e.kind {
            case .crash:
                crashes += 1
                if e.first >= 0 { first.append(Double(e.first - e.start) / ns) }
                if e.reached999 >= 0 { last999.append(Double(e.reached999 - e.start) / ns) }
                if e.complete >= 0 { last.append(Double(e.complete - e.start) / ns) } else { undetected += 1 }
            case .leave:
                leaveCount += 1
                if e.complete >= 0 { leaves.append(Double(e.complete - e.start) / ns) }
            case .join:
                if e.complete >= 0 { joins.append(Double(e.complete - e.start) / ns) }
            case .rejoin:
                if e.complete >= 0 { rejoins.append(Double(e.complete - e.start) / ns) }
            }
        }
        let bound = Report.memberlistBound(nodes: scenario.nodes)
        let detectionLast = Summary(last)
        if crashes > 0 { invariants.apply(.crashDetectedWithinBound) }
        // A crash still undetected at the end is a violation once it is older than the bound.
        for e in observations.episodes where e.kind == .crash && e.complete < 0 && !e.abandoned && !e.boundViolated
            && now - e.start > detectionBound.nanoseconds {
            invariants.violate(.crashDetectedWithinBound, at: now, "n\(e.subject) crashed at t=\(Report.seconds(e.start))s is still not held dead by \(e.pending) live nodes")
        }

        let tracer = observations.tracer
        let d999 = tracer.flatMap { $0.reached999 >= 0 ? Double($0.reached999 - $0.start) / ns : nil }
        let d100 = tracer.flatMap { $0.complete >= 0 ? Double($0.complete - $0.start) / ns : nil }
        let bootstrap = observations.watches.first { $0.kind == .bootstrap }
        let bootstrapSeconds = bootstrap.flatMap { $0.converged >= 0 ? Double($0.converged - $0.start) / ns : nil }
        let heals = observations.watches.filter { $0.kind == .heal }
        if !heals.isEmpty { invariants.apply(.convergedAfterHeal) }
        var healSeconds: Double?
        if !heals.isEmpty, heals.allSatisfy({ $0.converged >= 0 }) {
            healSeconds = heals.map { Double($0.converged - $0.start) / ns }.max()
        } else if let open = heals.first(where: { $0.converged < 0 }), !open.violated {
            let (missing, example) = convergenceGap()
            invariants.violate(.convergedAfterHeal, at: now, "the run ended \(Report.seconds(now - open.start))s after the heal with \(missing) pairs disagreeing, e.g. \(example)")
        }

        // Vivaldi: estimated versus model round trips over random pairs of running nodes.
        var pairRandom = SeededRandom(seed: seed ^ 0x7117_A1D1)
        let running = (0 ..< slotCount).filter { nodes[$0].state == .running }
        var errors: [Double] = []
        if running.count >= 2 {
            for _ in 0 ..< SimulationLimits.vivaldiSamplePairs {
                let a = running[Int(pairRandom.next() % UInt64(running.count))]
                let b = running[Int(pairRandom.next() % UInt64(running.count))]
                guard a != b, let ca = nodes[a].core?.coordinate, let cb = nodes[b].core?.coordinate else { continue }
                let truth = network.trueRoundTrip(a, b).seconds
                let estimate = Membership.estimatedRTT(ca, cb).seconds
                errors.append(abs(estimate - truth) / truth)
            }
        }
        let vivaldi = Summary(errors)

        var core = MembershipMetrics()
        for i in 0 ..< slotCount {
            guard let m = nodes[i].core?.metrics else { continue }
            core.probesSent += m.probesSent; core.probeFailures += m.probeFailures
            core.indirectProbesSent += m.indirectProbesSent; core.nacksSent += m.nacksSent
            core.suspicionsRaised += m.suspicionsRaised; core.refutations += m.refutations
            core.correctionsSent += m.correctionsSent
            core.deathsDeclared += m.deathsDeclared; core.messagesSent += m.messagesSent
            core.updatesSent += m.updatesSent; core.pushPulls += m.pushPulls
            core.pingsForAnotherNode += m.pingsForAnotherNode; core.metadataRejected += m.metadataRejected
        }

        let fp = observations.falsePositiveEpisodes.count
        let fpRate = nodeHours > 0 ? Double(fp) / nodeHours * 1000 : 0
        let perNodeSecond = { (x: Int) in nodeSeconds > 0 ? Double(x) / nodeSeconds : 0 }
        let metrics: [(ExpectedBound.Metric, Double?)] = [
            (.detectionFirstMedianSeconds, Summary(first)?.median),
            (.detectionFirstMaxSeconds, Summary(first)?.max),
            (.detectionMedianSeconds, detectionLast?.median),
            (.detectionMaxSeconds, detectionLast?.max),
            (.detectionRatio, detectionLast.map { $0.max / bound }),
            (.undetectedCrashes, crashes > 0 ? Double(undetected) : nil),
            (.falsePositives, Double(fp)),
            (.falsePositivesPer1000NodeHours, fpRate),
            (.convergeSeconds, healSeconds),
            (.dissemination999Seconds, d999),
            (.dissemination100Seconds, d100),
            (.leaveSeconds, Summary(leaves)?.max),
            (.messagesPerNodeSecond, perNodeSecond(load.messages)),
            (.bytesPerNodeSecond, perNodeSecond(load.bytes)),
            (.vivaldiMedianError, vivaldi?.median),
        ]

        var invariantResults: [(String, String?)] = invariants.results.map { ($0.0.rawValue, $0.1) }
        for e in scenario.expectations {
            let measured = metrics.first { $0.0 == e.metric }?.1 ?? nil
            let verdict: String?
            if let measured {
                if e.holds(measured) {
                    verdict = nil
                } else {
                    var detail = "measured \(Report.format(measured))"
                    if e.metric == .falsePositives || e.metric == .falsePositivesPer1000NodeHours,
                       let firstFP = observations.firstFalsePositive { detail += "; first: \(firstFP)" }
                    verdict = detail
                }
            } else {
                verdict = "not measured in this run"
            }
            invariantResults.append(("expect \(e)", verdict))
        }

        let kinds: [MessageKind] = MessageKind.allCases
        return SimulationReport(
            scenario: scenario.name, seed: seed, nodes: scenario.nodes, profile: scenario.profile.rawValue,
            simulatedSeconds: Double(endTime) / ns, measuredSeconds: measuredSeconds, nodeHours: nodeHours,
            messages: load.messages, bytes: load.bytes,
            messagesPerNodeSecond: perNodeSecond(load.messages), bytesPerNodeSecond: perNodeSecond(load.bytes),
            byKind: kinds.compactMap { k in
                let m = load.messagesByKind[Int(k.rawValue)]
                return m > 0 ? ("\(k)", m, load.bytesByKind[Int(k.rawValue)]) : nil
            },
            network: network.counters,
            crashes: crashes, undetectedCrashes: undetected,
            detectionFirst: Summary(first), detectionLast: detectionLast, detectionLast999: Summary(last999),
            memberlistBoundSeconds: bound, detectionRatio: detectionLast.map { $0.max / bound },
            leaves: leaveCount, leaveSeconds: Summary(leaves), leavesSeenAsDead: observations.leavesSeenAsDead,
            joins: Summary(joins), rejoins: Summary(rejoins),
            falsePositives: fp, falsePositiveDeclarations: observations.falsePositiveDeclarations,
            falsePositivesPer1000NodeHours: fpRate, firstFalsePositive: observations.firstFalsePositive,
            partitionVerdicts: observations.partitionVerdicts,
            dissemination999Seconds: d999, dissemination100Seconds: d100,
            bootstrapConvergeSeconds: bootstrapSeconds, healConvergeSeconds: healSeconds,
            vivaldiPairs: errors.count, vivaldiMedianError: vivaldi?.median,
            coreMetrics: core, wakeStalls: wakeStalls,
            metrics: metrics, invariants: invariantResults)
    }
}

// MARK: - rendering

extension SimulationReport {
    /// One JSON object (keys sorted). `wallSeconds` is the only field that differs
    /// between two runs of the same seed.
    public func json(wallSeconds: Double?) -> String {
        var o = JSONObject()
        o.add("scenario", string: scenario)
        o.add("seed", int: seed)
        o.add("nodes", int: nodes)
        o.add("profile", string: profile)
        o.add("simulated_seconds", simulatedSeconds)
        o.add("measured_seconds", measuredSeconds)
        if let wallSeconds { o.add("wall_seconds", wallSeconds) }
        o.add("passed", bool: passed)

        var m = JSONObject()
        m.add("total", int: messages)
        m.add("per_node_per_second", messagesPerNodeSecond)
        m.add("bytes_total", int: bytes)
        m.add("bytes_per_node_per_second", bytesPerNodeSecond)
        var kinds = JSONObject()
        for k in byKind {
            var one = JSONObject()
            one.add("messages", int: k.messages)
            one.add("bytes", int: k.bytes)
            kinds.add(k.kind, object: one)
        }
        m.add("by_kind", object: kinds)
        var dropped = JSONObject()
        for r in DropReason.allCases { dropped.add(r.description, int: network.dropped(r)) }
        m.add("dropped", object: dropped)
        m.add("duplicated", int: network.duplicated)
        o.add("messages", object: m)

        var d = JSONObject()
        d.add("crashes", int: crashes)
        d.add("undetected", int: undetectedCrashes)
        d.addSummary("first_seconds", detectionFirst)
        d.addSummary("all_999_seconds", detectionLast999)
        d.addSummary("all_seconds", detectionLast)
        d.add("memberlist_bound_seconds", memberlistBoundSeconds)
        d.add("ratio", detectionRatio)
        o.add("detection", object: d)

        var f = JSONObject()
        f.add("members", int: falsePositives)
        f.add("declarations", int: falsePositiveDeclarations)
        f.add("per_1000_node_hours", falsePositivesPer1000NodeHours)
        f.add("node_hours", nodeHours)
        f.add("first", string: firstFalsePositive)
        f.add("excused_by_partition", int: partitionVerdicts)
        o.add("false_positives", object: f)

        var s = JSONObject()
        s.add("update_999_seconds", dissemination999Seconds)
        s.add("update_100_seconds", dissemination100Seconds)
        s.addSummary("join_seconds", joins)
        s.addSummary("rejoin_seconds", rejoins)
        s.addSummary("leave_seconds", leaveSeconds)
        s.add("leaves", int: leaves)
        s.add("leaves_seen_as_dead", int: leavesSeenAsDead)
        o.add("dissemination", object: s)

        var c = JSONObject()
        c.add("bootstrap_seconds", bootstrapConvergeSeconds)
        c.add("after_heal_seconds", healConvergeSeconds)
        o.add("convergence", object: c)

        var v = JSONObject()
        v.add("pairs", int: vivaldiPairs)
        v.add("median_error", vivaldiMedianError)
        o.add("vivaldi", object: v)

        var k = JSONObject()
        k.add("probes_sent", int: coreMetrics.probesSent)
        k.add("probe_failures", int: coreMetrics.probeFailures)
        k.add("indirect_probes_sent", int: coreMetrics.indirectProbesSent)
        k.add("nacks_sent", int: coreMetrics.nacksSent)
        k.add("suspicions_raised", int: coreMetrics.suspicionsRaised)
        k.add("refutations", int: coreMetrics.refutations)
        k.add("corrections_sent", int: coreMetrics.correctionsSent)
        k.add("deaths_declared", int: coreMetrics.deathsDeclared)
        k.add("push_pulls", int: coreMetrics.pushPulls)
        k.add("wake_stalls", int: wakeStalls)
        o.add("core", object: k)

        var me = JSONObject()
        for (metric, value) in metrics { me.add(metric.rawValue, value) }
        o.add("metrics", object: me)

        var inv = JSONObject()
        for (name, violation) in invariants { inv.add(name, string: violation.map { "fail: \($0)" } ?? "pass") }
        o.add("invariants", object: inv)
        return o.rendered
    }

    /// A report for people.
    public func text(wallSeconds: Double?) -> String {
        func s(_ x: Double?) -> String { x.map { Report.format($0) + "s" } ?? "-" }
        func sum(_ x: Summary?) -> String { x.map { "median \(Report.format($0.median))s, max \(Report.format($0.max))s (\($0.count))" } ?? "-" }
        var lines: [String] = []
        lines.append("scenario \(scenario)  seed \(seed)  nodes \(nodes)  profile \(profile)")
        var timing = "simulated \(Report.format(simulatedSeconds))s (measured \(Report.format(measuredSeconds))s)"
        if let wallSeconds { timing += "  wall \(Report.format(wallSeconds))s" }
        lines.append(timing)
        lines.append("")
        lines.append("load       \(Report.format(messagesPerNodeSecond)) msg/node/s, \(Report.format(bytesPerNodeSecond)) B/node/s (\(messages) messages, \(bytes) bytes)")
        lines.append("           " + byKind.map { "\($0.kind) \($0.messages)" }.joined(separator: ", "))
        let drops = DropReason.allCases.filter { network.dropped($0) > 0 }.map { "\($0) \(network.dropped($0))" }
        lines.append("network    dropped: " + (drops.isEmpty ? "none" : drops.joined(separator: ", ")) + "; duplicated \(network.duplicated)")
        if crashes > 0 {
            lines.append("detection  \(crashes) crashes, \(undetectedCrashes) not known everywhere")
            lines.append("           first node:   \(sum(detectionFirst))")
            lines.append("           99.9% nodes:  \(sum(detectionLast999))")
            lines.append("           every node:   \(sum(detectionLast))")
            lines.append("           memberlist LAN bound for N=\(nodes): \(Report.format(memberlistBoundSeconds))s; ratio \(detectionRatio.map(Report.format) ?? "-")")
        }
        lines.append("false pos. \(falsePositives) members (\(falsePositiveDeclarations) verdicts), \(Report.format(falsePositivesPer1000NodeHours)) per 1000 node-hours over \(Report.format(nodeHours)) node-hours")
        if let firstFalsePositive { lines.append("           first: \(firstFalsePositive)") }
        lines.append("update     99.9% \(s(dissemination999Seconds)), 100% \(s(dissemination100Seconds))")
        if joins != nil { lines.append("joins      \(sum(joins))") }
        if rejoins != nil { lines.append("rejoins    \(sum(rejoins))") }
        if leaves > 0 { lines.append("leaves     \(leaves): \(sum(leaveSeconds)); seen as dead \(leavesSeenAsDead) times") }
        lines.append("converge   bootstrap \(s(bootstrapConvergeSeconds)), after heal \(s(healConvergeSeconds))")
        lines.append("vivaldi    median relative error \(vivaldiMedianError.map(Report.format) ?? "-") over \(vivaldiPairs) pairs")
        lines.append("core       probes \(coreMetrics.probesSent), failures \(coreMetrics.probeFailures), indirect \(coreMetrics.indirectProbesSent), suspicions \(coreMetrics.suspicionsRaised), refutations \(coreMetrics.refutations), corrections \(coreMetrics.correctionsSent), deaths \(coreMetrics.deathsDeclared)")
        lines.append("")
        lines.append("invariants")
        for (name, violation) in invariants {
            lines.append("  \(violation == nil ? "pass" : "FAIL") \(name)" + (violation.map { ": \($0)" } ?? ""))
        }
        lines.append(passed ? "PASSED (seed \(seed))" : "FAILED: reproduce with `meshsim run \(scenario) --seed \(seed) --nodes \(nodes)`")
        return lines.joined(separator: "\n")
    }
}

/// A JSON object built in insertion order (so reports are byte-identical run to run).
/// A report's JSON, as every engine writes it: a tree of values encoded by Foundation's
/// `JSONEncoder` with sorted keys. Numbers are rounded to four decimals (`Report.format`)
/// so that a report reads well and two runs of a seed print the same bytes.
enum JSONValue: Encodable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case number(Double)
    case string(String)
    case object([String: JSONValue])
    case array([JSONValue])

    /// A measured value: rounded, and `null` when it is not finite.
    static func measured(_ x: Double?) -> JSONValue {
        guard let x, x.isFinite else { return .null }
        let r = (x * 10_000).rounded() / 10_000
        if r == r.rounded(), abs(r) < 1e15 { return .int(Int64(r)) }
        return .number(r)
    }

    static func integer(_ n: some BinaryInteger) -> JSONValue {
        if let i = Int64(exactly: n) { return .int(i) }
        return .uint(UInt64(clamping: n))
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case let .bool(b): try c.encode(b)
        case let .int(i): try c.encode(i)
        case let .uint(u): try c.encode(u)
        case let .number(d): try c.encode(d)
        case let .string(s): try c.encode(s)
        case let .object(o): try c.encode(o)
        case let .array(a): try c.encode(a)
        }
    }

    /// The JSON text, keys sorted.
    var rendered: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Every case encodes: strings, finite numbers, containers of them.
        return String(decoding: try! encoder.encode(self), as: UTF8.self)
    }
}

/// A JSON object under construction (a report, or a part of one).
struct JSONObject {
    private var fields: [String: JSONValue] = [:]

    mutating func add(_ key: String, _ value: JSONValue) { fields[key] = value }
    mutating func add(_ key: String, string: String?) { add(key, string.map(JSONValue.string) ?? .null) }
    mutating func add(_ key: String, _ number: Double?) { add(key, .measured(number)) }
    mutating func add(_ key: String, int: some BinaryInteger) { add(key, .integer(int)) }
    mutating func add(_ key: String, bool: Bool) { add(key, .bool(bool)) }
    mutating func add(_ key: String, object: JSONObject) { add(key, object.value) }
    mutating func addSummary(_ key: String, _ s: Summary?) {
        guard let s else { add(key, .null); return }
        var o = JSONObject()
        o.add("median", s.median); o.add("max", s.max); o.add("count", int: s.count)
        add(key, object: o)
    }

    var value: JSONValue { .object(fields) }
    var rendered: String { value.rendered }
}
