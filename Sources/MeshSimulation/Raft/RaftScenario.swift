import Foundation
import Consensus
import MeshCore

/// A scenario for the Raft engine (`engine raft` in the file): a few real `RaftNode` cores,
/// clients writing all the while, and a timeline of network, process and disk faults.
/// Same line syntax as the membership scenarios (see simulations/README.md, "Consensus").
///
/// Node numbers: `1 ... voters` start as voters, the next `learners` as learners, the next
/// `spares` outside the configuration (for the voter policy to add).
public struct RaftScenario: Sendable, Equatable {
    public var name: String
    public var description: String = ""
    public var seed: UInt64 = 1
    public var voters = 3
    public var learners = 0
    public var spares = 0
    public var settings: RaftSettings = .lan
    public var profileName = "lan"
    /// One-way latency: `base + uniform(0, spread)` per message.
    public var baseLatency: Duration = .microseconds(200)
    public var spreadLatency: Duration = .milliseconds(1)
    public var loss: Double = 0
    /// Share of the links a partition cuts that refuse sends at the sender
    /// (`NetworkParameters.refusedSendShare`): lost like the rest, counted as send errors.
    public var refusedSendShare: Double = 0
    /// How long one fsync takes; inputs that arrive meanwhile queue and share the next one
    /// (group commit). A crash during it loses the unsynced writes.
    public var fsync: Duration = .milliseconds(1)
    /// A crash may also tear the write in progress (a half-written record), which the
    /// restart must detect; otherwise a crash loses the unsynced writes cleanly, as
    /// SQLite's rollback of an unfinished transaction does.
    public var tornWrites = false
    /// Nothing is measured before this (a first leader is elected).
    public var warmup: Duration = .seconds(5)
    public var duration: Duration = .seconds(60)
    /// After the timeline: heal, restart every crashed node, run this long, then check that
    /// every acknowledged write is on every node.
    public var settle: Duration = .seconds(30)
    public var clients = 2
    /// A client waits this long between a reply and its next write.
    public var clientThink: Duration = .milliseconds(100)
    /// A client gives up on a write after this long (its outcome is then unknown).
    public var clientTimeout: Duration = .seconds(2)
    /// The leader runs `VoterPolicy` every second with the simulator's view of who is alive.
    public var policy: VoterPolicy?
    /// Bytes of (deterministic) padding in every snapshot, so it travels in several chunks.
    public var snapshotPaddingBytes = 0
    public var timeline: [RaftTimedAction] = []
    public var expectations: [RaftExpectation] = []

    public init(name: String) { self.name = name }

    public var nodeCount: Int { voters + learners + spares }
}

/// One step of a Raft scenario's timeline (from the end of the warm-up).
public struct RaftTimedAction: Sendable, Equatable {
    public var at: Duration
    public var action: RaftFaultAction
}

/// Which node a Raft fault hits.
public enum RaftTarget: Sendable, Equatable, CustomStringConvertible {
    case leader
    /// A voter that is not the leader.
    case follower
    case node(Int)

    public var description: String {
        switch self {
        case .leader: "leader"
        case .follower: "follower"
        case let .node(i): "node \(i)"
        }
    }
}

/// How a node's disk is damaged while it is down.
public enum StorageFault: String, Sendable, Equatable {
    /// Everything is gone (a replaced disk).
    case wipe
    /// One bit of a synced log record flips.
    case flip
    /// The log loses its last synced records.
    case truncate
}

/// The faults a Raft scenario can apply.
public enum RaftFaultAction: Sendable, Equatable {
    case crash(RaftTarget)
    /// Crash now, start again after `after`.
    case restart(RaftTarget, after: Duration)
    /// Crash, damage the disk, start again after `after`.
    case damage(RaftTarget, StorageFault, after: Duration)
    /// Cut the node off from every other node.
    case isolate(RaftTarget)
    /// Split the nodes at random into two groups of which the first holds `percent` %.
    case partition(percent: Double)
    case heal
    case loss(Double)
    /// A Jepsen-style random schedule until `until`: every `every` (± half), one of
    /// partition, isolate a node or the leader, crash, restart crashed nodes, heal.
    case chaos(every: Duration, until: Duration)
}

/// A bound on a Raft measurement, such as `expect failover_max_seconds <= 1`.
public struct RaftExpectation: Sendable, Equatable, CustomStringConvertible {
    public var metric: RaftMetric
    public var comparison: ExpectedBound.Comparison
    public var value: Double

    public var description: String { "\(metric.rawValue) \(comparison.rawValue) \(Report.format(value))" }

    public func holds(_ measured: Double) -> Bool {
        ExpectedBound(.detectionRatio, comparison, value).holds(measured)
    }
}

/// The measurements a Raft scenario can bound; the names are the report's JSON keys.
public enum RaftMetric: String, Sendable, CaseIterable {
    case failoverMaxSeconds = "failover_max_seconds"
    case failoverMedianSeconds = "failover_median_seconds"
    case stepDownMaxSeconds = "step_down_max_seconds"
    case elections
    case leaderChanges = "leader_changes"
    case acknowledgedWrites = "acknowledged_writes"
    case lostWrites = "lost_writes"
    case corruptionsDetected = "corruptions_detected"
    case refilledNodes = "refilled_nodes"
    case voterReplacements = "voter_replacements"
    case snapshotsInstalled = "snapshots_installed"
}

extension RaftScenario {
    /// The engine a scenario file names on its `engine` line (`membership` when it has none).
    public static func engine(of text: String) -> String { LineParser.engine(of: text) }

    /// Parses a scenario file with `engine raft`. Blank lines and `#` comments are ignored.
    public init(parsing text: String) throws(ScenarioError) {
        var name: String?
        self.init(name: "")
        for (key, p) in LineParser.lines(text) {
            switch key {
            case "name": name = try p.word(0, "a scenario name")
            case "description": description = p.words.joined(separator: " ")
            case "engine": guard try p.word(0, "raft") == "raft" else { throw p.error("raft") }
            case "seed": seed = UInt64(try p.int(0, "a seed", min: 0))
            case "voters": voters = try p.int(0, "1 to 7 voters", min: 1); guard voters <= 7 else { throw p.error("1 to 7 voters") }
            case "learners": learners = try p.int(0, "a learner count", min: 0)
            case "spares": spares = try p.int(0, "a count of nodes outside the configuration", min: 0)
            case "profile":
                switch try p.word(0, "lan or wan") {
                case "lan": settings = .lan; profileName = "lan"
                case "wan": settings = .wan; profileName = "wan"
                default: throw p.error("lan or wan")
                }
            case "latency":
                var i = 0
                while i < p.words.count {
                    switch p.words[i] {
                    case "base": baseLatency = try p.duration(i + 1)
                    case "spread": spreadLatency = try p.duration(i + 1)
                    default: throw p.error("latency base D spread D")
                    }
                    i += 2
                }
            case "loss": loss = try p.percent(0)
            case "refused_sends": refusedSendShare = try p.percent(0)
            case "fsync": fsync = try p.duration(0)
            case "snapshot":
                // snapshot every N [padding BYTES] [chunk BYTES]
                guard p.words.first == "every" else { throw p.error("snapshot every N [padding BYTES] [chunk BYTES]") }
                settings.snapshotThresholdEntries = try p.int(1, "entries between snapshots", min: 1)
                if let i = p.words.firstIndex(of: "padding") { snapshotPaddingBytes = try p.int(i + 1, "bytes", min: 0) }
                if let i = p.words.firstIndex(of: "chunk") { settings.snapshotChunkBytes = try p.int(i + 1, "bytes", min: 1) }
            case "torn_writes":
                switch try p.word(0, "on or off") {
                case "on": tornWrites = true
                case "off": tornWrites = false
                default: throw p.error("on or off")
                }
            case "warmup": warmup = try p.duration(0)
            case "duration": duration = try p.duration(0)
            case "settle": settle = try p.duration(0)
            case "clients":
                // clients N [every D] [timeout D]
                clients = try p.int(0, "a client count", min: 0)
                clientThink = try p.optionalKeyed("every", from: 1) ?? clientThink
                clientTimeout = try p.optionalKeyed("timeout", from: 1) ?? clientTimeout
            case "policy":
                // policy voters N grace D
                let wanted = p.words.firstIndex(of: "voters").map { try? p.int($0 + 1, "a voter count", min: 1) } ?? nil
                let grace = try p.optionalKeyed("grace", from: 0) ?? .seconds(10)
                policy = VoterPolicy(desiredVoters: wanted ?? 3, deadGrace: grace)
            case "at": timeline.append(try Self.parseTimed(p))
            case "expect":
                let names = RaftMetric.allCases.map(\.rawValue).joined(separator: ", ")
                guard let metric = RaftMetric(rawValue: try p.word(0, "a metric (\(names))")) else { throw p.error("a metric (\(names))") }
                guard let cmp = ExpectedBound.Comparison(rawValue: try p.word(1, "<=, <, ==, >= or >")) else { throw p.error("<=, <, ==, >= or >") }
                guard let v = Double(try p.word(2, "a number")) else { throw p.error("a number") }
                expectations.append(RaftExpectation(metric: metric, comparison: cmp, value: v))
            default:
                throw ScenarioError.syntax(line: p.line, text: p.text,
                                           expected: "a key of a raft scenario (name, description, engine, seed, voters, learners, spares, profile, latency, loss, refused_sends, fsync, torn_writes, snapshot, warmup, duration, settle, clients, policy, at, expect)")
            }
        }
        guard let name else { throw .missing(key: "name") }
        self.name = name
        for t in timeline {
            switch t.action {
            case let .crash(.node(i)), let .restart(.node(i), _), let .damage(.node(i), _, _), let .isolate(.node(i)):
                guard i >= 1, i <= nodeCount else { throw .invalid(key: "node", value: "\(i)", allowed: "1 ... \(nodeCount)") }
            default: break
            }
        }
    }

    private static func parseTimed(_ p: LineParser) throws(ScenarioError) -> RaftTimedAction {
        let verbs = "an action (crash, restart, wipe, corrupt, isolate, partition, heal, loss, chaos)"
        let at = try p.duration(0)
        let verb = try p.word(1, verbs)
        let rest = LineParser(line: p.line, text: p.text, words: Array(p.words.dropFirst(2)))
        func target() throws(ScenarioError) -> (RaftTarget, Int) {
            switch try rest.word(0, "leader, follower or node I") {
            case "leader": return (.leader, 1)
            case "follower": return (.follower, 1)
            case "node": return (.node(try rest.int(1, "a node number", min: 1)), 2)
            default: throw rest.error("leader, follower or node I")
            }
        }
        let action: RaftFaultAction
        switch verb {
        case "crash": action = .crash(try target().0)
        case "restart":
            let (t, _) = try target()
            action = .restart(t, after: try rest.optionalKeyed("after", from: 1) ?? .seconds(5))
        case "wipe":
            let (t, _) = try target()
            action = .damage(t, .wipe, after: try rest.optionalKeyed("after", from: 1) ?? .seconds(5))
        case "corrupt":
            // corrupt TARGET flip|truncate [after D]
            let (t, used) = try target()
            guard let fault = StorageFault(rawValue: try rest.word(used, "flip or truncate")), fault != .wipe else {
                throw rest.error("flip or truncate")
            }
            action = .damage(t, fault, after: try rest.optionalKeyed("after", from: used + 1) ?? .seconds(5))
        case "isolate": action = .isolate(try target().0)
        case "partition": action = .partition(percent: try rest.percent(0) * 100)
        case "heal": action = .heal
        case "loss": action = .loss(try rest.percent(0))
        case "chaos":
            // chaos every D until T
            action = .chaos(every: try rest.keyed("every", from: 0), until: try rest.keyed("until", from: 0))
        default: throw p.error(verbs)
        }
        return RaftTimedAction(at: at, action: action)
    }

    /// Loads a scenario given as a path or a name in simulations/.
    public static func load(_ nameOrPath: String) throws(ScenarioError) -> RaftScenario {
        try RaftScenario(parsing: ScenarioLibrary.text(of: nameOrPath))
    }
}

extension ScenarioLibrary {
    /// The text of a scenario given as a path or a name (for dispatching on its engine).
    public static func text(of nameOrPath: String) throws(ScenarioError) -> String {
        let path = try locate(nameOrPath)
        do { return try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw .unreadable(path: path, reason: "\(error)")
        }
    }
}
