import Consensus
import EventLog
import MeshCore

/// A scenario of the control-replica engine (`engine control` in the file): N nodes of
/// which the first `voters` run the real `RaftNode`; a client writes variables to the
/// leader at a steady rate; the leader publishes each committed entry as a `control.*`
/// event through the real event-log `Replicator` (`distribute events`, what the agent
/// does), or replicates its Raft log to every other node as a Raft learner
/// (`distribute learners`, etcd's learners: the yardstick that grows with N); every node
/// applies through the real `ControlReplica`. Same line syntax as the other engines
/// (`simulations/README.md`, "Control replica").
public struct ControlScenario: Sendable, Equatable {
    /// How committed entries reach the members that are not voters.
    public enum Distribution: String, Sendable, Equatable, CaseIterable {
        /// `control.*` events spread by the event log's broadcast trees and anti-entropy.
        case events
        /// Every other node is a Raft learner of the leader.
        case learners
    }

    public var name: String
    public var description = ""
    public var nodes: Int
    public var voters = 5
    public var seed: UInt64 = 1
    /// Raft and event-log settings profile, and the network it implies unless overridden.
    public var profile: Scenario.Profile = .lan
    public var network: NetworkParameters
    public var distribution = Distribution.events
    /// Client writes per second, evenly spaced, from the end of the warm-up for `duration`.
    public var writesPerSecond = 20.0
    /// Distinct variable keys the writes cycle through (the state's size stays bounded).
    public var keys = 32
    /// Bytes of each written value.
    public var valueBytes = 32
    /// Before the writes: the voters elect a leader, the broadcast trees form.
    public var warmup = Duration.seconds(5)
    /// The measured period: writes arrive, the leader's sends are counted.
    public var duration = Duration.seconds(10)
    /// Quiet time after the last write, before the final checks.
    public var settle = Duration.seconds(10)
    /// The leader publishes what it applied this long after the first of it, all in one
    /// batch (`ConsensusService.publishInterval` in the agent: 100 ms).
    public var publishInterval = Duration.milliseconds(100)
    /// The bound of `replica_lag_within_bound`: every member applies each committed write
    /// within this long of the leader's commit of it.
    public var lagBound = Duration.seconds(5)
    /// Whether the event-log cores verify each event's Ed25519 signature (off in big runs:
    /// the simulator's `EventTable` then checks each body against its origin's).
    public var verifySignatures = false
    public var replica = ControlReplicaSettings()
    public var expectations: [ControlExpectation] = []

    public init(name: String, nodes: Int, profile: Scenario.Profile = .lan) {
        self.name = name; self.nodes = nodes; self.profile = profile; network = profile.network
    }

    public var raftSettings: RaftSettings { profile == .wan ? .wan : .lan }

    public var replicationSettings: ReplicationSettings {
        var s: ReplicationSettings = switch profile {
        case .lan: .lan
        case .wan: .wan
        case .local: .local
        }
        s.verifySignatures = verifySignatures
        return s
    }
}

/// The measurements a control scenario can bound; the names are the report's JSON keys.
public enum ControlMetric: String, Sendable, CaseIterable {
    case commits
    case lagP50Seconds = "lag_p50_seconds"
    case lagP99Seconds = "lag_p99_seconds"
    case lagMaxSeconds = "lag_max_seconds"
    case leaderMessagesPerCommit = "leader_messages_per_commit"
    case leaderBytesPerCommit = "leader_bytes_per_commit"
    /// State fetches from the leader (`ControlReplica.needsRepair`).
    case repairs
    case writesRefused = "writes_refused"
}

/// A bound on a control measurement, such as `expect lag_max_seconds <= 1`.
public struct ControlExpectation: Sendable, Equatable, CustomStringConvertible {
    public var metric: ControlMetric
    public var comparison: ExpectedBound.Comparison
    public var value: Double
    public var description: String { "\(metric.rawValue) \(comparison.rawValue) \(Report.format(value))" }
    public func holds(_ measured: Double) -> Bool { ExpectedBound(.detectionRatio, comparison, value).holds(measured) }
}

/// Limits of the control-replica engine.
public enum ControlSimulationLimits {
    /// Largest node count (every node holds a replicator with every other as a peer).
    public static let maxNodes = 5000
    /// How often the lag bound and the repairs are checked.
    public static let checkInterval = Duration.milliseconds(250)
    /// A state fetch unanswered this long is given up and may be asked again
    /// (`ConsensusService.commandTimeout` in the agent).
    public static let stateFetchTimeout = Duration.seconds(5)
    /// Violations kept per invariant in the report (the rest are only counted).
    public static let violationsKept = 5
    /// Wall-clock milliseconds at virtual time zero (events carry wall time).
    public static let wallEpochMilliseconds: UInt64 = 1_700_000_000_000
}

extension ControlScenario {
    /// Parses a control scenario. Blank lines and `#` comments are ignored.
    public init(parsing text: String) throws(ScenarioError) {
        var s = ControlScenario(name: "", nodes: 0)
        var name: String?, nodes: Int?, loss: Double?
        for (key, p) in LineParser.lines(text) {
            switch key {
            case "name": name = try p.word(0, "a scenario name")
            case "description": s.description = p.words.joined(separator: " ")
            case "engine": guard try p.word(0, "control") == "control" else { throw p.error("control") }
            case "nodes": nodes = try p.int(0, "a node count", min: 1)
            case "voters": s.voters = try p.int(0, "an odd voter count (1, 3, 5, 7)", min: 1)
            case "seed": s.seed = UInt64(try p.int(0, "a seed (a non-negative integer)", min: 0))
            case "profile":
                guard let pr = Scenario.Profile(rawValue: try p.word(0, "lan, wan or local")) else { throw p.error("lan, wan or local") }
                s.profile = pr
                s.network = pr.network
            case "distribute":
                guard let d = Distribution(rawValue: try p.word(0, "events or learners")) else { throw p.error("events or learners") }
                s.distribution = d
            case "writes":
                let w = try p.word(0, "a rate such as 20/s")
                guard w.hasSuffix("/s"), let r = Double(w.dropLast(2)), r > 0 else { throw p.error("a rate such as 20/s") }
                s.writesPerSecond = r
            case "keys": s.keys = try p.int(0, "a key count (at least 1)", min: 1)
            case "value_bytes": s.valueBytes = try p.int(0, "a value size in bytes", min: 0)
            case "warmup": s.warmup = try p.duration(0)
            case "duration": s.duration = try p.duration(0)
            case "settle": s.settle = try p.duration(0)
            case "publish_interval": s.publishInterval = try p.duration(0)
            case "lag_bound": s.lagBound = try p.duration(0)
            case "repair_after": s.replica.repairAfter = try p.duration(0)
            case "verify":
                let w = try p.word(0, "on or off")
                guard w == "on" || w == "off" else { throw p.error("on or off") }
                s.verifySignatures = w == "on"
            case "loss": loss = try p.percent(0)
            case "expect":
                let names = ControlMetric.allCases.map(\.rawValue).joined(separator: ", ")
                guard let m = ControlMetric(rawValue: try p.word(0, names)) else { throw p.error(names) }
                guard let c = ExpectedBound.Comparison(rawValue: try p.word(1, "<=, <, ==, >= or >")) else { throw p.error("<=, <, ==, >= or >") }
                guard let v = Double(try p.word(2, "a number")) else { throw p.error("a number") }
                s.expectations.append(ControlExpectation(metric: m, comparison: c, value: v))
            default:
                throw ScenarioError.syntax(line: p.line, text: p.text, expected:
                    "a key of a control scenario (name, description, engine, nodes, voters, seed, profile, distribute, writes, keys, value_bytes, warmup, duration, settle, publish_interval, lag_bound, repair_after, verify, loss, expect)")
            }
        }
        guard let name else { throw .missing(key: "name") }
        guard let nodes else { throw .missing(key: "nodes") }
        s.name = name
        s.nodes = nodes
        if let loss { s.network.lossRate = loss }
        guard s.voters % 2 == 1, s.voters <= nodes else {
            throw .invalid(key: "voters", value: "\(s.voters)", allowed: "an odd count of at most the \(nodes) nodes")
        }
        self = s
    }

    /// Loads a scenario given as a path or a name in simulations/.
    public static func load(_ nameOrPath: String) throws(ScenarioError) -> ControlScenario {
        try ControlScenario(parsing: ScenarioLibrary.text(of: nameOrPath))
    }
}
