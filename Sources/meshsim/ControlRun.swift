import ArgumentParser
import MeshSimulation

/// `meshsim run` for a scenario with `engine control`.
struct ControlRun {
    let text: String
    let seed: UInt64?
    let nodes: Int?
    let duration: Int?
    let json: Bool

    func run() throws {
        var simulation: ControlSimulation
        do {
            var scenario = try ControlScenario(parsing: text)
            if let duration { scenario.duration = .seconds(duration) }
            simulation = try ControlSimulation(scenario: scenario, seed: seed, nodes: nodes)
        } catch { throw ValidationError("\(error)") }
        let clock = ContinuousClock()
        let started = clock.now
        let report = simulation.run()
        let wall = clock.now - started
        let wallSeconds = Double(wall.components.seconds) + Double(wall.components.attoseconds) / 1e18
        print(json ? report.json(wallSeconds: wallSeconds) : report.text(wallSeconds: wallSeconds))
        if !report.passed { throw ExitCode(1) }
    }
}
