import EventLog
import Foundation
import MeshCore

/// A scenario of the event-log engine (`engine eventlog` in the file): N nodes each running
/// the real `Replicator`, appending at a fixed rate, with a timeline of partitions and
/// node restarts, and bounds on what is measured. Same line syntax as the membership
/// scenarios (`simulations/README.md`); times in `at` lines are from the start of the run.
public struct EventLogScenario: Sendable, Equatable {
    public var name: String
    public var description: String
    public var nodes: Int
    public var seed: UInt64
    /// Replication settings profile (and the network it implies unless overridden).
    public var profile: Scenario.Profile
    public var network: NetworkParameters
    /// Each node appends one event this often (its first one at a per-node phase).
    public var appendInterval: Duration
    /// How long nodes append.
    public var duration: Duration
    /// Quiet time after the last append, before the final convergence check.
    public var settle: Duration
    /// Latency and bytes are measured from here on (`measure after D`): events appended
    /// before it, and messages sent and events delivered before it, are left out, so a
    /// run can report the steady state past the trees' forming and the first full
    /// digests. Zero (the default): the whole run.
    public var measureAfter: Duration = .zero
    /// Whether the cores verify every received event's Ed25519 signature. Off in the big
    /// runs (the simulator's `EventTable` then checks each body against its origin's); on in
    /// `swift test`.
    public var verifySignatures: Bool
    /// Overrides of the profile's push fan-out and push interval (`push_fanout N`,
    /// `push_interval D`).
    public var pushFanout: Int?
    public var pushInterval: Duration?
    /// Overrides of per-link coalescing (`push_fill BYTES`, `push_hold D`).
    public var pushFillBytes: Int?
    public var maxPushHold: Duration?
    public var timeline: [EventLogAction]
    public var expectations: [EventLogBound]

    public init(name: String, description: String = "", nodes: Int, seed: UInt64 = 1, profile: Scenario.Profile = .lan,
                network: NetworkParameters? = nil, appendInterval: Duration = .seconds(1), duration: Duration = .seconds(60),
                settle: Duration = .seconds(30), verifySignatures: Bool = true, pushFanout: Int? = nil,
                timeline: [EventLogAction] = [], expectations: [EventLogBound] = []) {
        self.name = name; self.description = description; self.nodes = nodes; self.seed = seed; self.profile = profile
        self.network = network ?? profile.network; self.appendInterval = appendInterval; self.duration = duration
        self.settle = settle; self.verifySignatures = verifySignatures; self.pushFanout = pushFanout
        self.timeline = timeline; self.expectations = expectations
    }

    /// The replication settings every node runs with.
    public var settings: ReplicationSettings {
        var s: ReplicationSettings = switch profile {
        case .lan: .lan
        case .wan: .wan
        case .local: .local
        }
        s.verifySignatures = verifySignatures
        if let pushFanout { s.pushFanout = pushFanout }
        if let pushInterval { s.pushInterval = pushInterval }
        if let pushFillBytes { s.pushFillBytes = pushFillBytes }
        if let maxPushHold { s.maxPushHold = maxPushHold }
        return s
    }
}

/// One step of an event-log scenario's timeline.
public struct EventLogAction: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The first `percent` of the nodes (by index) are cut from the rest, both ways.
        case partition(percent: Double)
        case heal
        /// The node stops; its store survives unless it restarts `empty`.
        case crash(node: Int)
        /// The node starts again with a fresh core over its old store, or an empty one.
        case restart(node: Int, empty: Bool)
    }
    /// From the start of the run.
    public var at: Duration
    public var kind: Kind
    public init(at: Duration, kind: Kind) { self.at = at; self.kind = kind }
}

/// A bound on an event-log measurement, such as `expect convergence_seconds <= 30`.
public struct EventLogBound: Sendable, Equatable, CustomStringConvertible {
    public enum Metric: String, Sendable, CaseIterable {
        case latencyP50Seconds = "latency_p50_seconds"
        case latencyP99Seconds = "latency_p99_seconds"
        case latencyMaxSeconds = "latency_max_seconds"
        case convergenceSeconds = "convergence_seconds"
        case catchUpSeconds = "catchup_seconds"
        case bytesRatio = "bytes_ratio"
    }
    public var metric: Metric
    public var comparison: ExpectedBound.Comparison
    public var value: Double
    public var description: String { "\(metric.rawValue) \(comparison.rawValue) \(Report.format(value))" }
    public func holds(_ v: Double) -> Bool { ExpectedBound(.convergeSeconds, comparison, value).holds(v) }
}

extension EventLogScenario {
    /// The engine a scenario file asks for (`engine NAME`; `membership` when absent).
    public static func engine(of text: String) -> String { LineParser.engine(of: text) }

    /// Loads a scenario given as a path or a name (see `ScenarioLibrary`) and returns its
    /// engine and text.
    public static func read(_ nameOrPath: String) throws(ScenarioError) -> (engine: String, text: String) {
        let path = try ScenarioLibrary.locate(nameOrPath)
        do {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            return (engine(of: text), text)
        } catch { throw .unreadable(path: path, reason: "\(error)") }
    }

    /// Parses an event-log scenario. Blank lines and `#` comments are ignored.
    public init(parsing text: String) throws(ScenarioError) {
        var name: String?, nodes: Int?, description = "", seed: UInt64 = 1, profile = Scenario.Profile.lan
        var append = Duration.seconds(1), duration = Duration.seconds(60), settle = Duration.seconds(30)
        var verify = true, fanout: Int?, measureAfter = Duration.zero, pushInterval: Duration?
        var pushFill: Int?, pushHold: Duration?
        var timeline: [EventLogAction] = [], expectations: [EventLogBound] = []
        var loss: Double?, refusedSends: Double?, latency: [Substring]?
        for (key, p) in LineParser.lines(text) {
            switch key {
            case "name": name = try p.word(0, "a scenario name")
            case "description": description = p.words.joined(separator: " ")
            case "engine": guard try p.word(0, "eventlog") == "eventlog" else { throw p.error("eventlog") }
            case "nodes": nodes = try p.int(0, "a node count", min: 2)
            case "seed": seed = UInt64(try p.int(0, "a seed (a non-negative integer)", min: 0))
            case "profile":
                guard let pr = Scenario.Profile(rawValue: try p.word(0, "lan, wan or local")) else { throw p.error("lan, wan or local") }
                profile = pr
            case "append": append = try p.duration(0)
            case "duration": duration = try p.duration(0)
            case "settle": settle = try p.duration(0)
            case "measure":
                guard try p.word(0, "after") == "after" else { throw p.error("measure after DURATION") }
                measureAfter = try p.duration(1)
            case "verify":
                let w = try p.word(0, "on or off")
                guard w == "on" || w == "off" else { throw p.error("on or off") }
                verify = w == "on"
            case "push_fanout": fanout = try p.int(0, "a fan-out (at least 1)", min: 1)
            case "push_interval": pushInterval = try p.duration(0)
            case "push_fill": pushFill = try p.int(0, "bytes (at least 1)", min: 1)
            case "push_hold": pushHold = try p.duration(0)
            case "loss": loss = try p.percent(0)
            case "refused_sends": refusedSends = try p.percent(0)
            case "latency": latency = p.words
            case "at":
                let at = try p.duration(0)
                let rest = LineParser(line: p.line, text: p.text, words: Array(p.words.dropFirst(2)))
                switch try p.word(1, "partition, heal, crash or restart") {
                case "partition": timeline.append(.init(at: at, kind: .partition(percent: try rest.percent(0) * 100)))
                case "heal": timeline.append(.init(at: at, kind: .heal))
                case "crash", "restart":
                    guard rest.words.first == "node" else { throw p.error("node INDEX") }
                    let node = try rest.int(1, "a node index", min: 0)
                    if p.words[1] == "crash" { timeline.append(.init(at: at, kind: .crash(node: node))) } else {
                        timeline.append(.init(at: at, kind: .restart(node: node, empty: rest.words.count > 2 && rest.words[2] == "empty")))
                    }
                default: throw p.error("partition, heal, crash or restart")
                }
            case "expect":
                let names = EventLogBound.Metric.allCases.map(\.rawValue).joined(separator: ", ")
                guard let m = EventLogBound.Metric(rawValue: try p.word(0, names)) else { throw p.error(names) }
                guard let c = ExpectedBound.Comparison(rawValue: try p.word(1, "<=, <, ==, >= or >")) else { throw p.error("<=, <, ==, >= or >") }
                guard let v = Double(try p.word(2, "a number")) else { throw p.error("a number") }
                expectations.append(EventLogBound(metric: m, comparison: c, value: v))
            default:
                throw ScenarioError.syntax(line: p.line, text: p.text, expected:
                    "a key of an event-log scenario (name, description, engine, nodes, seed, profile, append, duration, settle, verify, push_fanout, push_interval, push_fill, push_hold, loss, refused_sends, latency, at, expect)")
            }
        }
        guard let name else { throw .missing(key: "name") }
        guard let nodes else { throw .missing(key: "nodes") }
        var network = profile.network
        if let loss { network.lossRate = loss }
        if let refusedSends { network.refusedSendShare = refusedSends }
        if let latency {
            let p = LineParser(line: 0, text: latency.joined(separator: " "), words: latency)
            var i = 0
            while i + 1 < latency.count {
                let d = try p.duration(i + 1)
                switch latency[i] {
                case "base": network.baseLatency = d
                case "spread": network.spreadLatency = d
                case "jitter": network.jitter = d
                default: throw p.error("latency base D spread D jitter D")
                }
                i += 2
            }
        }
        for a in timeline {
            switch a.kind {
            case let .crash(n), let .restart(n, _):
                guard n < nodes else { throw .invalid(key: "at \(a.at)", value: "node \(n)", allowed: "a node index below \(nodes)") }
            default: break
            }
        }
        self.init(name: name, description: description, nodes: nodes, seed: seed, profile: profile, network: network,
                  appendInterval: append, duration: duration, settle: settle, verifySignatures: verify, pushFanout: fanout,
                  timeline: timeline, expectations: expectations)
        guard measureAfter < duration else {
            throw .invalid(key: "measure after", value: "\(measureAfter)", allowed: "less than the duration (\(duration))")
        }
        self.measureAfter = measureAfter
        self.pushInterval = pushInterval
        self.pushFillBytes = pushFill
        self.maxPushHold = pushHold
    }
}
