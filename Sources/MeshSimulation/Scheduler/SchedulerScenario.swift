import MeshCore
import Scheduler

/// A scenario of the scheduler engine (`engine sched` in the file): N simulated nodes with
/// tags, arch and capacity, workloads drawn from the seed, a simulated leader running the
/// real `Scheduler.plan`, a simulated supervisor per node, and a timeline of crashes,
/// partitions, joins and leader crashes. Same line syntax as the other engines
/// (simulations/README.md, "Scheduler"); times in `at` lines are from the start of the run.
public struct SchedulerScenario: Sendable, Equatable {
    public var name: String
    public var description = ""
    public var seed: UInt64 = 1
    public var nodes = 100
    /// Voters of the control state's Raft group: nodes `i × nodes / voters` for
    /// `i < voters`, so a cut of the first P % of the nodes takes some of them along.
    public var voters = 5
    /// The run ends here; the last state must be settled by then.
    public var duration: Duration = .seconds(120)
    /// The leader plans this often, and on every change of its membership view.
    public var reconcileInterval: Duration = .seconds(1)
    /// A fault (crash, cut, heal, join) shows in the leader's membership view this long
    /// after it happened: the view is the truth of `detect` ago.
    public var detect: Duration = .seconds(3)
    /// A batch of plan commands is committed (a quorum has it) this long after the previous.
    public var commitLatency: Duration = .milliseconds(10)
    /// Commands (stops and places) per committed batch; a plan larger than this takes several
    /// batches, and a leader that dies between them leaves the rest uncommitted.
    public var commitBatch = 500
    /// A connected node learns a commit this long after it (its replica applies it).
    public var replicate: Duration = .milliseconds(100)
    /// After the leader dies or loses its quorum, a voter on a majority side leads after this.
    public var election: Duration = .seconds(1)
    /// Every workload's `reschedule_after`.
    public var rescheduleAfter: Duration = .seconds(30)
    public var population = SchedulerPopulation()
    public var timeline: [SchedulerTimedAction] = []
    public var expectations: [SchedulerExpectation] = []

    public init(name: String) { self.name = name }

    /// The node indices that vote.
    public var voterIndices: [Int] { (0 ..< voters).map { $0 * nodes / voters } }
}

/// What the nodes and workloads look like; every draw comes from the run's seed.
public struct SchedulerPopulation: Sendable, Equatable {
    public struct Tag: Sendable, Equatable {
        public var key: String
        public var values: [String]
    }

    /// A constraint a share of the workloads carries.
    public struct ConstraintShare: Sendable, Equatable {
        public var share: Double
        public var constraint: Constraint
    }

    public struct OnHealShare: Sendable, Equatable {
        public var share: Double
        public var policy: WorkloadSpec.OnHeal
    }

    public var cpuMillicores = 4_000
    public var memoryMB = 8_192
    /// Share of the nodes with arch `aarch64` (the rest `x86_64`).
    public var armShare = 0.25
    /// Each node gets one of the values of each tag, uniformly.
    public var tags: [Tag] = []
    public var workloads = 100
    public var count: ClosedRange<Int> = 1 ... 20
    public var cpu: ClosedRange<Int> = 50 ... 500
    public var memory: ClosedRange<Int> = 32 ... 512
    public var constraints: [ConstraintShare] = []
    public var binpackShare = 0.2
    /// This share of the workloads sets `stop_after_disconnect` to `stopAfterDisconnect`.
    public var stopAfterDisconnectShare = 0.0
    public var stopAfterDisconnect: Duration = .seconds(60)
    /// Shares of `on_heal` policies; the rest keep the default (`keep_replacement`).
    public var onHeal: [OnHealShare] = []

    public init() {}
}

/// One step of a scheduler scenario's timeline (from the start of the run).
public struct SchedulerTimedAction: Sendable, Equatable {
    public var at: Duration
    public var action: SchedulerFaultAction
}

public enum SchedulerFaultAction: Sendable, Equatable, CustomStringConvertible {
    /// Crash running nodes chosen with the seed (a count or a percentage), or one node.
    case crash(NodeSelection)
    /// The leader's node crashes (whatever it was doing).
    case crashLeader
    /// The first `percent` % of the node indices are cut from the rest, both ways.
    case partition(percent: Double)
    case heal
    /// New nodes join with this arch and these tags (and the population's capacity).
    case join(count: Int, arch: String, tags: [String: String])

    public var description: String {
        switch self {
        case let .crash(s): "crash \(s)"
        case .crashLeader: "crash leader"
        case let .partition(p): "partition \(Report.format(p))%"
        case .heal: "heal"
        case let .join(n, arch, tags):
            "join \(n) arch \(arch)" + tags.sorted { $0.key < $1.key }.map { " tag \($0.key)=\($0.value)" }.joined()
        }
    }
}

/// The measurements a scheduler scenario can bound; the names are the report's JSON keys.
public enum SchedulerMetric: String, Sendable, CaseIterable {
    /// A crash → every instance that ran on the crashed nodes runs on another node.
    case crashMovedMaxSeconds = "crash_moved_max_seconds"
    case crashMovedMedianSeconds = "crash_moved_median_seconds"
    /// Instances of crashed nodes not running elsewhere at the end.
    case crashUnmoved = "crash_unmoved"
    /// A join → every slot that was pending at the join and is placed by the end runs.
    case joinPlacedMaxSeconds = "join_placed_max_seconds"
    /// Slots pending at a join that run by the end.
    case joinPlaced = "join_placed"
    /// A heal → the last duplicate (two running instances of one slot) is stopped.
    case healDuplicatesGoneSeconds = "heal_duplicates_gone_seconds"
    case duplicatesAtHeal = "duplicates_at_heal"
    /// A timeline action → the next settled state (the longest over the actions).
    case settledAfterFaultMaxSeconds = "settled_after_fault_max_seconds"
    /// A timeline action → the first settled round with nothing pending (the longest over
    /// the actions): a crash's or a cut's instances all run elsewhere, a dead leader's plan is done.
    case allRunningAfterFaultMaxSeconds = "all_running_after_fault_max_seconds"
    /// The start → the first settled round (everything placed or pending with a reason).
    case firstSettledSeconds = "first_settled_seconds"
    case instancesPlaced = "instances_placed"
    case instancesRunningAtEnd = "instances_running_at_end"
    case pendingAtEnd = "pending_at_end"
    case leaderChanges = "leader_changes"
    /// Plan commands a leader lost by dying or losing its quorum before they committed.
    case uncommittedCommands = "uncommitted_commands"
}

/// A bound on a scheduler measurement, such as `expect crash_moved_max_seconds <= 35`.
public struct SchedulerExpectation: Sendable, Equatable, CustomStringConvertible {
    public var metric: SchedulerMetric
    public var comparison: ExpectedBound.Comparison
    public var value: Double
    public var description: String { "\(metric.rawValue) \(comparison.rawValue) \(Report.format(value))" }
    public func holds(_ measured: Double) -> Bool { ExpectedBound(.convergeSeconds, comparison, value).holds(measured) }
}

extension SchedulerScenario {
    /// Parses a scenario file with `engine sched`. Blank lines and `#` comments are ignored.
    public init(parsing text: String) throws(ScenarioError) {
        var name: String?
        self.init(name: "")
        for (key, p) in LineParser.lines(text) {
            switch key {
            case "name": name = try p.word(0, "a scenario name")
            case "description": description = p.words.joined(separator: " ")
            case "engine": guard try p.word(0, "sched") == "sched" else { throw p.error("sched") }
            case "seed": seed = UInt64(try p.int(0, "a seed", min: 0))
            case "nodes": nodes = try p.int(0, "a node count (at least 5)", min: 5)
            case "voters": voters = try p.int(0, "1 to 7 voters", min: 1); guard voters <= 7 else { throw p.error("1 to 7 voters") }
            case "duration": duration = try p.duration(0)
            case "reconcile_interval": reconcileInterval = try p.duration(0)
            case "detect": detect = try p.duration(0)
            case "commit": // commit LATENCY batch N
                commitLatency = try p.duration(0)
                if let i = p.words.firstIndex(of: "batch") { commitBatch = try p.int(i + 1, "commands per batch", min: 1) }
            case "replicate": replicate = try p.duration(0)
            case "election": election = try p.duration(0)
            case "reschedule_after": rescheduleAfter = try p.duration(0)
            case "capacity": // capacity cpu N memory N
                guard p.words.count == 4, p.words[0] == "cpu", p.words[2] == "memory" else { throw p.error("capacity cpu MILLICORES memory MB") }
                population.cpuMillicores = try p.int(1, "millicores", min: 1)
                population.memoryMB = try p.int(3, "MB", min: 1)
            case "arch": // arch aarch64 P%
                guard try p.word(0, "aarch64") == "aarch64" else { throw p.error("arch aarch64 P%") }
                population.armShare = try p.percent(1)
            case "tag": // tag KEY V1,V2,...
                let values = try p.word(1, "tag KEY V1,V2,...").split(separator: ",").map(String.init)
                guard !values.isEmpty else { throw p.error("tag KEY V1,V2,...") }
                population.tags.append(.init(key: try p.word(0, "a tag key"), values: values))
            case "workloads": // workloads N count A-B cpu A-B memory A-B
                population.workloads = try p.int(0, "a workload count", min: 0)
                var i = 1
                while i < p.words.count {
                    let range = try Self.range(p, i + 1)
                    switch p.words[i] {
                    case "count": population.count = range
                    case "cpu": population.cpu = range
                    case "memory": population.memory = range
                    default: throw p.error("workloads N count A-B cpu A-B memory A-B")
                    }
                    i += 2
                }
            case "constraint": // constraint P% EXPRESSION
                let share = try p.percent(0)
                let expression = p.words.dropFirst().joined(separator: " ")
                do { population.constraints.append(.init(share: share, constraint: try Constraint.parse(expression))) } catch {
                    throw p.error("constraint P% KEY=VALUE | KEY!=VALUE | KEY in A,B (\(error))")
                }
            case "binpack": population.binpackShare = try p.percent(0)
            case "stop_after_disconnect": // stop_after_disconnect P% D
                population.stopAfterDisconnectShare = try p.percent(0)
                population.stopAfterDisconnect = try p.duration(1)
            case "on_heal": // on_heal P% POLICY
                let share = try p.percent(0)
                guard let policy = WorkloadSpec.OnHeal(rawValue: try p.word(1, "keep_original, keep_replacement or longest_running")) else {
                    throw p.error("keep_original, keep_replacement or longest_running")
                }
                population.onHeal.append(.init(share: share, policy: policy))
            case "at": timeline.append(try Self.parseTimed(p))
            case "expect":
                let names = SchedulerMetric.allCases.map(\.rawValue).joined(separator: ", ")
                guard let metric = SchedulerMetric(rawValue: try p.word(0, "a metric (\(names))")) else { throw p.error("a metric (\(names))") }
                guard let cmp = ExpectedBound.Comparison(rawValue: try p.word(1, "<=, <, ==, >= or >")) else { throw p.error("<=, <, ==, >= or >") }
                guard let v = Double(try p.word(2, "a number")) else { throw p.error("a number") }
                expectations.append(SchedulerExpectation(metric: metric, comparison: cmp, value: v))
            default:
                throw ScenarioError.syntax(line: p.line, text: p.text, expected:
                    "a key of a sched scenario (name, description, engine, seed, nodes, voters, duration, reconcile_interval, detect, commit, replicate, election, reschedule_after, capacity, arch, tag, workloads, constraint, binpack, stop_after_disconnect, on_heal, at, expect)")
            }
        }
        guard let name else { throw .missing(key: "name") }
        self.name = name
        guard voters <= nodes else { throw .invalid(key: "voters", value: "\(voters)", allowed: "at most the \(nodes) nodes") }
        for t in timeline {
            if case let .crash(.node(i)) = t.action, i >= nodes {
                throw .invalid(key: "at \(t.at)", value: "node \(i)", allowed: "a node index below \(nodes)")
            }
        }
    }

    /// `A-B` or `A`.
    private static func range(_ p: LineParser, _ i: Int) throws(ScenarioError) -> ClosedRange<Int> {
        let w = try p.word(i, "a range such as 1-20")
        let parts = w.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 1 || parts.count == 2, parts.allSatisfy({ $0 >= 0 }), parts.first! <= parts.last! else {
            throw p.error("a range such as 1-20")
        }
        return parts.first! ... parts.last!
    }

    private static func parseTimed(_ p: LineParser) throws(ScenarioError) -> SchedulerTimedAction {
        let verbs = "an action (crash, partition, heal, join)"
        let at = try p.duration(0)
        let rest = LineParser(line: p.line, text: p.text, words: Array(p.words.dropFirst(2)))
        let action: SchedulerFaultAction
        switch try p.word(1, verbs) {
        case "crash": action = rest.words.first == "leader" ? .crashLeader : .crash(try rest.selection(0))
        case "partition": action = .partition(percent: try rest.percent(0) * 100)
        case "heal": action = .heal
        case "join": // join N [arch A] [tag K=V]...
            let count = try rest.int(0, "a node count", min: 1)
            var arch = "x86_64", tags: [String: String] = [:]
            var i = 1
            while i < rest.words.count {
                let value = try rest.word(i + 1, "arch A or tag K=V")
                switch rest.words[i] {
                case "arch": arch = value
                case "tag":
                    let kv = value.split(separator: "=", maxSplits: 1).map(String.init)
                    guard kv.count == 2, !kv[0].isEmpty, !kv[1].isEmpty else { throw rest.error("tag KEY=VALUE") }
                    tags[kv[0]] = kv[1]
                default: throw rest.error("arch A or tag K=V")
                }
                i += 2
            }
            action = .join(count: count, arch: arch, tags: tags)
        default: throw p.error(verbs)
        }
        return SchedulerTimedAction(at: at, action: action)
    }
}
