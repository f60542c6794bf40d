import ArgumentParser
import MeshSimulation

/// `meshsim run` for a scenario with `engine sched`: one seed, with the leader's plan times.
struct SchedulerRun {
    let text: String
    let seed: UInt64?
    let nodes: Int?
    let json: Bool

    func run() throws {
        var simulation: SchedulerSimulation
        do {
            simulation = try SchedulerSimulation(scenario: SchedulerScenario(parsing: text), seed: seed, nodes: nodes)
        } catch { throw ValidationError("\(error)") }
        let clock = ContinuousClock()
        simulation.planClock = clock
        let started = clock.now
        let report = simulation.run()
        let wall = clock.now - started
        let wallSeconds = Double(wall.components.seconds) + Double(wall.components.attoseconds) / 1e18
        print(json ? report.json(wallSeconds: wallSeconds) : report.text(wallSeconds: wallSeconds))
        if !report.passed { throw ExitCode(1) }
    }
}
