import ArgumentParser
import MeshSimulation

/// `meshsim run` for a scenario with `engine raft`: one seed, or a range of seeds.
struct RaftRun {
    let text: String
    let seed: UInt64?
    let seeds: String?
    let json: Bool

    func run() throws {
        let scenario: RaftScenario
        do { scenario = try RaftScenario(parsing: text) } catch { throw ValidationError("\(error)") }
        let clock = ContinuousClock()
        func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
        guard let seeds else {
            let started = clock.now
            var simulation = RaftSimulation(scenario: scenario, seed: seed)
            let report = simulation.run()
            let wall = seconds(clock.now - started)
            print(json ? report.json(wallSeconds: wall) : report.text(wallSeconds: wall))
            if !report.passed { throw ExitCode(1) }
            return
        }
        let bounds = seeds.split(separator: "-").compactMap { UInt64($0) }
        guard bounds.count == 2, bounds[0] <= bounds[1] else { throw ValidationError("--seeds wants a range such as 1-1000") }
        let started = clock.now
        var failed: [UInt64] = []
        var elections = 0.0, acks = 0.0, worstFailover = 0.0
        for s in bounds[0] ... bounds[1] {
            var simulation = RaftSimulation(scenario: scenario, seed: s)
            let report = simulation.run()
            elections += report.value(.elections) ?? 0
            acks += report.value(.acknowledgedWrites) ?? 0
            worstFailover = max(worstFailover, report.value(.failoverMaxSeconds) ?? 0)
            if !report.passed {
                failed.append(s)
                print(report.text(wallSeconds: nil))
            }
        }
        let n = bounds[1] - bounds[0] + 1
        print("\(scenario.name): \(n - UInt64(failed.count)) of \(n) seeds passed; \(Int(acks)) acknowledged writes, \(Int(elections)) elections, worst failover \(worstFailover) s; wall \(seconds(clock.now - started)) s")
        if !failed.isEmpty {
            print("failed seeds: \(failed.map(String.init).joined(separator: " "))")
            throw ExitCode(1)
        }
    }
}
