import Membership
import MeshCore

/// A simulation scenario: cluster size, settings profile, network, a timeline of faults and
/// the bounds the run must stay within. Parsed from the line-based format described in
/// `simulations/README.md` (`Scenario(parsing:)`).
///
/// Times in the timeline are measured from the end of the warm-up (the moment every node
/// has joined and membership has had time to converge), so `at 10s crash 1` means ten
/// seconds into the measured period.
public struct Scenario: Sendable, Equatable {
    public var name: String
    public var description: String
    /// Nodes that bootstrap (the dissemination tracer is one of them).
    public var nodes: Int
    public var profile: Profile
    public var seed: UInt64
    /// Bootstrap period before the timeline starts: nodes join during `bootstrapSpread`,
    /// then membership settles.
    public var warmup: Duration
    /// How long joins are spread over at the start (node i joins at `i × spread / nodes`).
    public var bootstrapSpread: Duration
    /// `bootstrap converged`: every node starts at time 0 already knowing every other one
    /// alive (`Membership.preload`), as a mesh long at steady state does, instead of joining.
    /// The join storm's N² alive updates are skipped, which is what makes 5,000- and
    /// 10,000-node runs affordable; the join path is what the other scenarios exercise.
    public var convergedStart: Bool
    /// The measured period after the warm-up.
    public var duration: Duration
    /// When the tracer node (the last one) joins, measured from the end of the warm-up: the
    /// time its alive update takes to reach 99.9% and 100% of the live nodes is the
    /// dissemination measurement. `nil`: no tracer.
    public var tracerJoinAt: Duration?
    public var network: NetworkParameters
    /// Addresses per node: 1, or 2 (a second, `11.x.y.z`, as a multi-homed host has).
    public var addressesPerNode: Int
    /// A node that was paused (or down) for at least this long in the recent past may be
    /// declared dead without it counting as a false positive. Default: the profile's
    /// minimum suspicion timeout for this many nodes.
    public var falsePositivePauseThreshold: Duration?
    public var timeline: [TimedAction]
    public var expectations: [ExpectedBound]

    public init(name: String, description: String = "", nodes: Int, profile: Profile = .lan, seed: UInt64 = 1,
                warmup: Duration = .seconds(30), bootstrapSpread: Duration = .seconds(10), duration: Duration = .seconds(60),
                tracerJoinAt: Duration? = .seconds(5), network: NetworkParameters? = nil, addressesPerNode: Int = 1,
                falsePositivePauseThreshold: Duration? = nil, timeline: [TimedAction] = [], expectations: [ExpectedBound] = [],
                convergedStart: Bool = false) {
        self.convergedStart = convergedStart
        self.name = name; self.description = description; self.nodes = nodes; self.profile = profile; self.seed = seed
        self.warmup = warmup; self.bootstrapSpread = bootstrapSpread; self.duration = duration
        self.tracerJoinAt = tracerJoinAt; self.network = network ?? profile.network
        self.addressesPerNode = addressesPerNode; self.falsePositivePauseThreshold = falsePositivePauseThreshold
        self.timeline = timeline; self.expectations = expectations
    }

    /// The membership settings profile (memberlist's LAN/WAN/local) and the network it implies.
    public enum Profile: String, Sendable, Equatable, CaseIterable {
        case lan, wan, local

        public var settings: MembershipSettings {
            switch self {
            case .lan: .lan
            case .wan: .wan
            case .local: .local
            }
        }

        public var network: NetworkParameters {
            switch self {
            case .lan: .lan
            case .wan: .wan
            case .local: .local
            }
        }
    }

    /// Nodes the run needs slots for: the initial ones plus every `join`.
    public var totalNodeSlots: Int {
        nodes + timeline.reduce(0) { n, t in if case let .join(k) = t.action { n + k } else { n } }
    }
}

/// Which nodes a fault hits: a count or a percentage of the running nodes (chosen with the
/// run's seed), or one node by index.
public enum NodeSelection: Sendable, Equatable, CustomStringConvertible {
    case count(Int)
    case percent(Double)
    case node(Int)

    public var description: String {
        switch self {
        case let .count(n): "\(n)"
        case let .percent(p): "\(p)%"
        case let .node(i): "node \(i)"
        }
    }
}

/// One step of a scenario's fault timeline.
public struct TimedAction: Sendable, Equatable {
    /// From the end of the warm-up.
    public var at: Duration
    public var action: FaultAction
    public init(at: Duration, action: FaultAction) { self.at = at; self.action = action }
}

/// The faults and changes a scenario can apply.
public enum FaultAction: Sendable, Equatable {
    /// The nodes stop at once; messages to them are dropped.
    case crash(NodeSelection)
    /// The nodes crash now and start again after `downtime` with a fresh core (same id and
    /// address) that joins a few live nodes.
    case restart(NodeSelection, downtime: Duration)
    /// The nodes leave gracefully (`Membership.leave`).
    case leave(NodeSelection)
    /// This many new nodes join, each through a few live nodes.
    case join(Int)
    /// The nodes receive and process nothing for `length`, then process their backlog;
    /// repeated every `every` until `until` (from the end of the warm-up) when given.
    case pause(NodeSelection, length: Duration, every: Duration?, until: Duration?)
    /// Splits the nodes into groups of these percentages (summing to 100), cut from each other.
    case partition([Double])
    /// The first `percent` of the nodes cannot reach the rest, while the rest reaches them.
    case partitionOneWay(percent: Double)
    /// Restores full connectivity.
    case heal
    /// Sets the uniform datagram loss rate (0 ... 1).
    case loss(Double)
    /// Sets the datagram duplication rate (0 ... 1).
    case duplicate(Double)
    /// Restarts `percentPerMinute` % of the running nodes per minute, spread evenly, each down
    /// for `downtime`, until `until` (from the end of the warm-up) or the end of the run.
    case churn(percentPerMinute: Double, downtime: Duration, until: Duration?)
}

/// A bound the run must respect, such as `expect detection_max_seconds <= 14`.
public struct ExpectedBound: Sendable, Equatable, CustomStringConvertible {
    public var metric: Metric
    public var comparison: Comparison
    public var value: Double

    public init(_ metric: Metric, _ comparison: Comparison, _ value: Double) {
        self.metric = metric; self.comparison = comparison; self.value = value
    }

    public var description: String { "\(metric.rawValue) \(comparison.rawValue) \(Report.format(value))" }

    public func holds(_ measured: Double) -> Bool {
        switch comparison {
        case .lessOrEqual: measured <= value
        case .less: measured < value
        case .equal: measured == value
        case .greaterOrEqual: measured >= value
        case .greater: measured > value
        }
    }

    public enum Comparison: String, Sendable, CaseIterable {
        case lessOrEqual = "<=", less = "<", equal = "==", greaterOrEqual = ">=", greater = ">"
    }

    /// The measurements an expectation can bound; the names are the report's JSON keys.
    public enum Metric: String, Sendable, CaseIterable {
        case detectionFirstMedianSeconds = "detection_first_median_seconds"
        case detectionFirstMaxSeconds = "detection_first_max_seconds"
        case detectionMedianSeconds = "detection_median_seconds"
        case detectionMaxSeconds = "detection_max_seconds"
        case detectionRatio = "detection_ratio"
        case undetectedCrashes = "undetected_crashes"
        case falsePositives = "false_positives"
        case falsePositivesPer1000NodeHours = "false_positives_per_1000_node_hours"
        case convergeSeconds = "converge_seconds"
        case dissemination999Seconds = "dissemination_999_seconds"
        case dissemination100Seconds = "dissemination_100_seconds"
        case leaveSeconds = "leave_seconds"
        case messagesPerNodeSecond = "messages_per_node_second"
        case bytesPerNodeSecond = "bytes_per_node_second"
        case vivaldiMedianError = "vivaldi_median_error"
    }
}

/// A scenario file that cannot be used, with the line and what was expected there.
public enum ScenarioError: Error, Equatable, CustomStringConvertible {
    case syntax(line: Int, text: String, expected: String)
    case missing(key: String)
    case invalid(key: String, value: String, allowed: String)
    case notFound(name: String, searched: [String])
    case unreadable(path: String, reason: String)

    public var description: String {
        switch self {
        case let .syntax(line, text, expected):
            "line \(line): cannot read \"\(text)\": expected \(expected) (see simulations/README.md)"
        case let .missing(key):
            "the scenario has no \"\(key)\" line; add one (see simulations/README.md)"
        case let .invalid(key, value, allowed):
            "\(key) = \(value) is not allowed: \(allowed)"
        case let .notFound(name, searched):
            "no scenario \"\(name)\": looked for \(searched.joined(separator: ", ")); pass a path or run `meshsim list`"
        case let .unreadable(path, reason):
            "cannot read \(path): \(reason)"
        }
    }
}

// MARK: - parsing

extension Scenario {
    /// Parses the line-based scenario format. Blank lines and `#` comments are ignored.
    public init(parsing text: String) throws(ScenarioError) {
        var name: String?, nodes: Int?
        var description = ""
        var profile = Profile.lan
        var seed: UInt64 = 1
        var warmup = Duration.seconds(30), spread = Duration.seconds(10), duration = Duration.seconds(60)
        var converged = false
        var tracer: Duration? = .seconds(5)
        var addresses = 1
        var fpThreshold: Duration?
        var timeline: [TimedAction] = []
        var expectations: [ExpectedBound] = []
        // Network lines may come before or after `profile`: collect them and apply at the end.
        var networkEdits: [(Int, [Substring])] = []

        for (key, p) in LineParser.lines(text) {
            let lineNumber = p.line, args = p.words, words = [key] + args
            switch key {
            case "name": name = try p.word(0, "a scenario name")
            case "description": description = args.joined(separator: " ")
            case "nodes": nodes = try p.int(0, "a node count", min: 1)
            case "profile":
                let w = try p.word(0, "lan, wan or local")
                guard let pr = Profile(rawValue: w) else { throw p.error("lan, wan or local") }
                profile = pr
            case "seed": seed = UInt64(try p.int(0, "a seed (a non-negative integer)", min: 0))
            case "warmup": warmup = try p.duration(0)
            case "bootstrap":
                if args.first == "converged" { converged = true; spread = .zero } else { converged = false; spread = try p.duration(0) }
            case "duration": duration = try p.duration(0)
            case "tracer":
                if args.first == "off" { tracer = nil } else { tracer = try p.duration(0) }
            case "addresses":
                addresses = try p.int(0, "1 or 2 addresses per node", min: 1)
                guard addresses <= 2 else { throw p.error("1 or 2 addresses per node") }
            case "fp_pause_threshold": fpThreshold = try p.duration(0)
            case "latency", "loss", "duplicate", "bandwidth", "egress_queue", "paused_buffer", "refused_sends":
                networkEdits.append((lineNumber, words))
            case "at": timeline.append(try Self.parseTimed(p))
            case "expect": expectations.append(try Self.parseExpectation(p))
            default:
                throw ScenarioError.syntax(line: lineNumber, text: p.text,
                                           expected: "a known key (name, description, nodes, profile, seed, warmup, bootstrap, duration, tracer, addresses, fp_pause_threshold, latency, loss, duplicate, bandwidth, egress_queue, paused_buffer, refused_sends, at, expect)")
            }
        }
        guard let name else { throw .missing(key: "name") }
        guard let nodes else { throw .missing(key: "nodes") }
        var network = profile.network
        for (lineNumber, words) in networkEdits {
            let p = LineParser(line: lineNumber, text: words.joined(separator: " "), words: Array(words.dropFirst()))
            switch words[0] {
            case "latency":
                // latency base 200us spread 1ms jitter 100us (any subset, any order)
                var i = 0
                while i < p.words.count {
                    let what = p.words[i]
                    let value = try p.duration(i + 1)
                    switch what {
                    case "base": network.baseLatency = value
                    case "spread": network.spreadLatency = value
                    case "jitter": network.jitter = value
                    default: throw p.error("latency base D spread D jitter D")
                    }
                    i += 2
                }
            case "loss": network.lossRate = try p.percent(0)
            case "duplicate": network.duplicateRate = try p.percent(0)
            case "bandwidth": network.bandwidthBytesPerSecond = try p.rate(0)
            case "egress_queue": network.maxEgressQueueDelay = try p.duration(0)
            case "paused_buffer": network.pausedReceiveBufferBytes = try p.int(0, "bytes", min: 0)
            case "refused_sends": network.refusedSendShare = try p.percent(0)
            default: break
            }
        }
        self.init(name: name, description: description, nodes: nodes, profile: profile, seed: seed, warmup: warmup,
                  bootstrapSpread: spread, duration: duration, tracerJoinAt: tracer, network: network,
                  addressesPerNode: addresses, falsePositivePauseThreshold: fpThreshold,
                  timeline: timeline, expectations: expectations, convergedStart: converged)
        guard bootstrapSpread <= warmup else {
            throw .invalid(key: "bootstrap", value: "\(bootstrapSpread)", allowed: "at most the warmup (\(warmup))")
        }
    }

    private static func parseTimed(_ p: LineParser) throws(ScenarioError) -> TimedAction {
        let at = try p.duration(0)
        let verb = try p.word(1, "an action (crash, restart, leave, join, pause, partition, heal, loss, duplicate, churn)")
        let rest = LineParser(line: p.line, text: p.text, words: Array(p.words.dropFirst(2)))
        let action: FaultAction
        switch verb {
        case "crash": action = .crash(try rest.selection(0))
        case "leave": action = .leave(try rest.selection(0))
        case "join": action = .join(try rest.int(0, "how many nodes join", min: 1))
        case "restart":
            // restart SEL [after D]
            let sel = try rest.selection(0)
            let consumed = rest.selectionWidth(0)
            let downtime = rest.words.count > consumed ? try rest.keyed("after", from: consumed) : Duration.seconds(10)
            action = .restart(sel, downtime: downtime)
        case "pause":
            // pause SEL for D [every D] [until T]
            let sel = try rest.selection(0)
            let start = rest.selectionWidth(0)
            let length = try rest.keyed("for", from: start)
            let every = try rest.optionalKeyed("every", from: start + 2)
            let until = try rest.optionalKeyed("until", from: start + 2)
            action = .pause(sel, length: length, every: every, until: until)
        case "partition":
            if rest.words.first == "oneway" {
                action = .partitionOneWay(percent: try rest.percent(1) * 100)
            } else {
                var groups: [Double] = []
                for i in rest.words.indices { groups.append(try rest.percent(i) * 100) }
                if groups.count == 1 { groups.append(100 - groups[0]) }
                guard groups.count >= 2, groups.count <= NetworkLimits.maxGroups,
                      abs(groups.reduce(0, +) - 100) < 0.001 else {
                    throw rest.error("2 to \(NetworkLimits.maxGroups) group percentages summing to 100% (or one, the rest forms the other group)")
                }
                action = .partition(groups)
            }
        case "heal": action = .heal
        case "loss": action = .loss(try rest.percent(0))
        case "duplicate": action = .duplicate(try rest.percent(0))
        case "churn":
            // churn P%/min [downtime D] [until T]
            let w = try rest.word(0, "a rate such as 1%/min")
            guard w.hasSuffix("%/min"), let pct = Double(w.dropLast(5)), pct > 0 else { throw rest.error("a rate such as 1%/min") }
            let downtime = try rest.optionalKeyed("downtime", from: 1) ?? .seconds(30)
            let until = try rest.optionalKeyed("until", from: 1)
            action = .churn(percentPerMinute: pct, downtime: downtime, until: until)
        default:
            throw p.error("an action (crash, restart, leave, join, pause, partition, heal, loss, duplicate, churn)")
        }
        return TimedAction(at: at, action: action)
    }

    private static func parseExpectation(_ p: LineParser) throws(ScenarioError) -> ExpectedBound {
        let names = ExpectedBound.Metric.allCases.map(\.rawValue).joined(separator: ", ")
        guard let metric = ExpectedBound.Metric(rawValue: try p.word(0, "a metric (\(names))")) else {
            throw p.error("a metric (\(names))")
        }
        guard let comparison = ExpectedBound.Comparison(rawValue: try p.word(1, "<=, <, ==, >= or >")) else {
            throw p.error("<=, <, ==, >= or >")
        }
        guard let value = Double(try p.word(2, "a number")) else { throw p.error("a number") }
        return ExpectedBound(metric, comparison, value)
    }
}

/// Reads the words of one scenario line with errors that name the line.
struct LineParser {
    let line: Int
    let text: String
    let words: [Substring]

    /// The scenario tokenizer every engine's parser uses: for each line that has a word,
    /// its first word (the key) and a parser over the others. `#` starts a comment; words
    /// are separated by spaces and tabs.
    static func lines(_ text: String) -> [(key: Substring, parser: LineParser)] {
        text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().compactMap { offset, raw in
            let words = (raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
                .split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            guard let key = words.first else { return nil }
            return (key, LineParser(line: offset + 1, text: String(raw), words: Array(words.dropFirst())))
        }
    }

    /// The engine a scenario file names on its `engine` line (`membership` when it has none).
    static func engine(of text: String) -> String {
        lines(text).first { $0.key == "engine" }.flatMap { $0.parser.words.first.map(String.init) } ?? "membership"
    }

    func error(_ expected: String) -> ScenarioError { .syntax(line: line, text: text, expected: expected) }

    func word(_ i: Int, _ expected: String) throws(ScenarioError) -> String {
        guard i < words.count else { throw error(expected) }
        return String(words[i])
    }

    func int(_ i: Int, _ expected: String, min: Int) throws(ScenarioError) -> Int {
        guard let v = Int(try word(i, expected)), v >= min else { throw error(expected) }
        return v
    }

    /// `5%` or `0.05` as a fraction in 0 ... 1.
    func percent(_ i: Int) throws(ScenarioError) -> Double {
        let w = try word(i, "a percentage such as 5%")
        let v: Double?
        if w.hasSuffix("%") { v = Double(w.dropLast()).map { $0 / 100 } } else { v = Double(w) }
        guard let v, v >= 0, v <= 1 else { throw error("a percentage between 0% and 100%") }
        return v
    }

    func duration(_ i: Int) throws(ScenarioError) -> Duration {
        let w = try word(i, "a duration such as 500ms, 10s or 2m")
        guard let d = Self.parseDuration(w) else { throw error("a duration such as 500ms, 10s or 2m") }
        return d
    }

    /// `1MB/s`, `100KB/s`, `5000B/s` or `0` (unlimited), in bytes per second.
    func rate(_ i: Int) throws(ScenarioError) -> Int {
        let w = try word(i, "a rate such as 1MB/s or 0 (unlimited)")
        if w == "0" { return 0 }
        let units: [(String, Double)] = [("MB/s", 1_000_000), ("KB/s", 1000), ("B/s", 1)]
        for (suffix, factor) in units where w.hasSuffix(suffix) {
            if let v = Double(w.dropLast(suffix.count)), v > 0 { return Int(v * factor) }
        }
        throw error("a rate such as 1MB/s, 100KB/s or 0 (unlimited)")
    }

    /// `3`, `10%` or `node 17`.
    func selection(_ i: Int) throws(ScenarioError) -> NodeSelection {
        let w = try word(i, "nodes: a count, a percentage or node INDEX")
        if w == "node" { return .node(try int(i + 1, "a node index", min: 0)) }
        if w.hasSuffix("%") { return .percent(try percent(i) * 100) }
        guard let n = Int(w), n >= 1 else { throw error("nodes: a count, a percentage or node INDEX") }
        return .count(n)
    }

    func selectionWidth(_ i: Int) -> Int { i < words.count && words[i] == "node" ? i + 2 : i + 1 }

    func keyed(_ key: String, from start: Int) throws(ScenarioError) -> Duration {
        guard let d = try optionalKeyed(key, from: start) else { throw error("\(key) DURATION") }
        return d
    }

    func optionalKeyed(_ key: String, from start: Int) throws(ScenarioError) -> Duration? {
        var i = start
        while i < words.count {
            if words[i] == key { return try duration(i + 1) }
            i += 1
        }
        return nil
    }

    static func parseDuration(_ w: String) -> Duration? {
        let units: [(String, Double)] = [("us", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, factor) in units where w.hasSuffix(suffix) {
            guard let v = Double(w.dropLast(suffix.count)), v >= 0 else { return nil }
            return .nanoseconds(Int64((v * factor * 1e9).rounded()))
        }
        return nil
    }
}
