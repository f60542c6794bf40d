import ArgumentParser
import Foundation
import MeshSimulation

/// `meshsim`: runs simulation scenarios of the membership protocol with virtual time.
struct MeshSim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meshsim",
        abstract: "Runs deterministic simulations of a meshd mesh with virtual time.",
        discussion: """
        Examples:
          meshsim list
          meshsim run crash-1
          meshsim run simulations/loss-5.scenario --seed 7 --nodes 200 --json
          meshsim run sched-crash --seed 3
          meshsim run control-replica --nodes 300
        Scenario names are looked up in simulations/ (see simulations/README.md).
        """,
        subcommands: [Run.self, List.self])
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Runs one scenario and prints its report; exit 1 when an invariant fails.",
        discussion: "Example: meshsim run crash-1 --seed 42 --nodes 100 --json")

    @Argument(help: "A scenario file path, or the name of a file in simulations/ without its extension.")
    var scenario: String

    @Option(help: "Seed for every random choice (default: the scenario's).")
    var seed: UInt64?

    @Option(help: "Number of nodes (overrides the scenario's).")
    var nodes: Int?

    @Flag(help: "Print one JSON object instead of the human report.")
    var json = false

    @Option(help: "Seconds of appending (event-log engine) or of writes (control engine); overrides the scenario's duration.")
    var duration: Int?

    @Option(help: "Seconds after which latency and bytes are measured (event-log engine; overrides the scenario's `measure after`).")
    var measureAfter: Int?

    @Option(help: "Seconds of settling after the last append (event-log engine; overrides the scenario's settle).")
    var settle: Int?

    @Option(help: "Write a line per simulation event to this file (slow; for one seed).")
    var trace: String?

    @Option(help: "Run every seed of a range such as 1-1000 (raft engine); exit 1 if any fails.")
    var seeds: String?

    func run() throws {
        if let text = try? ScenarioLibrary.text(of: scenario), RaftScenario.engine(of: text) == "raft" {
            try RaftRun(text: text, seed: seed, seeds: seeds, json: json).run()
            return
        }
        if let text = try? ScenarioLibrary.text(of: scenario), RaftScenario.engine(of: text) == "sched" {
            try SchedulerRun(text: text, seed: seed, nodes: nodes, json: json).run()
            return
        }
        if let text = try? ScenarioLibrary.text(of: scenario), RaftScenario.engine(of: text) == "control" {
            try ControlRun(text: text, seed: seed, nodes: nodes, duration: duration, json: json).run()
            return
        }
        if (try? EventLogScenario.read(scenario).engine) == "eventlog" { return try runEventLog() }
        let loaded: Scenario
        var simulation: Simulation
        var writer: TraceWriter?
        do {
            loaded = try ScenarioLibrary.load(scenario)
            simulation = try Simulation(scenario: loaded, seed: seed, nodes: nodes)
            if let trace { writer = try TraceWriter(path: trace); simulation.enableTrace(writer!) }
        } catch {
            throw ValidationError("\(error)")
        }
        let clock = ContinuousClock()
        let started = clock.now
        let report = simulation.run()
        let wall = (clock.now - started)
        writer?.close()
        let wallSeconds = Double(wall.components.seconds) + Double(wall.components.attoseconds) / 1e18
        print(json ? report.json(wallSeconds: wallSeconds) : report.text(wallSeconds: wallSeconds))
        if !report.passed { throw ExitCode(1) }
    }
}

extension Run {
    /// A scenario with `engine eventlog`: the replicated event log's engine.
    func runEventLog() throws {
        var simulation: EventLogSimulation
        do {
            var parsed = try EventLogScenario(parsing: EventLogScenario.read(scenario).text)
            if let duration { parsed.duration = .seconds(duration) }
            if let measureAfter { parsed.measureAfter = .seconds(measureAfter) }
            if let settle { parsed.settle = .seconds(settle) }
            guard parsed.measureAfter < parsed.duration else {
                throw ValidationError("measuring after \(parsed.measureAfter) leaves nothing of \(parsed.duration) of appending")
            }
            simulation = try EventLogSimulation(scenario: parsed, seed: seed, nodes: nodes)
        } catch {
            throw ValidationError("\(error)")
        }
        let started = ContinuousClock.now
        let report = simulation.run()
        let wall = ContinuousClock.now - started
        let wallSeconds = Double(wall.components.seconds) + Double(wall.components.attoseconds) / 1e18
        print(json ? report.json(wallSeconds: wallSeconds) : report.text(wallSeconds: wallSeconds))
        if !report.passed { throw ExitCode(1) }
    }
}

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Lists the scenarios in simulations/.",
        discussion: "Example: meshsim list")

    func run() throws {
        let scenarios = ScenarioLibrary.list()
        guard !scenarios.isEmpty else {
            throw ValidationError("no simulations/ folder found (looked in $\(ScenarioLibrary.environmentVariable), the current directory and its parents, and next to the executable)")
        }
        let width = scenarios.map(\.name.count).max() ?? 0
        for s in scenarios {
            print(s.name.padding(toLength: width + 2, withPad: " ", startingAt: 0) + s.description)
        }
    }
}

MeshSim.main()
