import MeshCore
@testable import MeshSimulation
import Scheduler
import Testing

/// Small versions of the `sched-*` scenarios: the real `Scheduler.plan` on 50 simulated
/// nodes, a simulated leader and supervisors, virtual time. The full ones are
/// `meshsim run sched-...` (simulations/).
struct SchedulerSimulationTests {
    static func scenario(_ body: String, duration: String = "60s") throws -> SchedulerScenario {
        try SchedulerScenario(parsing: """
            name test
            engine sched
            nodes 50
            duration \(duration)
            detect 3s
            reschedule_after 10s
            arch aarch64 25%
            tag zone z0,z1,z2,z3
            workloads 30 count 1-5 cpu 50-500 memory 32-512
            constraint 10% arch=aarch64
            constraint 10% zone in z1,z2
            binpack 20%
            \(body)
            """)
    }

    static func run(_ s: SchedulerScenario, seed: UInt64 = 1) throws -> SchedulerSimReport {
        var sim = try SchedulerSimulation(scenario: s, seed: seed)
        return sim.run()
    }

    @Test func theEngineLineSelectsTheSchedulerEngineAndBadLinesAreRefused() throws {
        #expect(RaftScenario.engine(of: "name x\nengine sched\n") == "sched")
        let s = try Self.scenario("at 10s join 3 arch aarch64 tag gpu=yes\nat 20s crash leader\nat 30s crash 10%")
        #expect(s.timeline.map(\.action) == [.join(count: 3, arch: "aarch64", tags: ["gpu": "yes"]), .crashLeader, .crash(.percent(10))])
        #expect(s.population.constraints.map(\.constraint.description) == ["arch=aarch64", "zone in z1,z2"])
        #expect(throws: ScenarioError.self) { try Self.scenario("constraint 10% zone") }
        #expect(throws: ScenarioError.self) { try Self.scenario("at 1s crash node 99") }
        #expect(throws: ScenarioError.self) { try Self.scenario("at 1s join 2 colour red") }
        #expect(throws: ScenarioError.self) { try Self.scenario("workloads 5 count 9-3") }
    }

    @Test func sameSeedSameReport() throws {
        let s = try Self.scenario("stop_after_disconnect 30% 5s\nat 10s partition 30%\nat 30s crash 5%\nat 40s heal")
        let a = try Self.run(s, seed: 3).json(wallSeconds: nil), b = try Self.run(s, seed: 3).json(wallSeconds: nil)
        let c = try Self.run(s, seed: 4).json(wallSeconds: nil)
        #expect(a == b)
        #expect(a != c)
    }

    @Test func everythingIsPlacedOnNodesThatFitAndNothingMoves() throws {
        let r = try Self.run(try Self.scenario(""))
        #expect(r.passed, "\(r.text(wallSeconds: nil))")
        #expect(r.value(.pendingAtEnd) == 0)
        #expect(r.value(.instancesPlaced) == Double(r.instancesWanted))
        #expect(r.value(.instancesRunningAtEnd) == Double(r.instancesWanted))
        #expect(r.counters.stops.isEmpty)
    }

    @Test func aCrashedNodesInstancesRunElsewhereAfterRescheduleAfter() throws {
        let r = try Self.run(try Self.scenario("at 20s crash 10%"))
        #expect(r.passed, "\(r.text(wallSeconds: nil))")
        #expect(r.value(.crashUnmoved) == 0)
        #expect((r.moves.first?.total ?? 0) > 0)
        // Not before reschedule_after (10 s) after the leader saw the crash (detect, 3 s).
        #expect((r.moves.first?.seconds?.median ?? 0) >= 13)
        #expect(r.value(.instancesRunningAtEnd) == Double(r.instancesWanted))
    }

    @Test func afterAPartitionHealsExactlyCountRemainAndDisconnectedStopsAreNotStartedTwice() throws {
        let s = try Self.scenario("""
            stop_after_disconnect 30% 20s
            on_heal 30% keep_original
            on_heal 20% longest_running
            at 10s partition 30%
            at 50s heal
            """, duration: "90s")
        for seed: UInt64 in 1 ... 3 {
            let r = try Self.run(s, seed: seed)
            #expect(r.passed, "seed \(seed): \(r.text(wallSeconds: nil))")
            #expect((r.value(.duplicatesAtHeal) ?? 0) > 0)
            #expect((r.counters.stops["surplus_after_heal"] ?? 0) > 0)
            #expect(r.counters.disconnectStops > 0)
            // Voter 0 (the first leader) was on the cut side.
            #expect(r.value(.leaderChanges) == 1)
            #expect(r.value(.instancesRunningAtEnd) == Double(r.instancesWanted))
        }
    }

    @Test func pendingWorkIsPlacedWhenNodesWithItsTagJoin() throws {
        let r = try Self.run(try Self.scenario("constraint 20% gpu=yes\nat 20s join 5 tag gpu=yes tag zone=z1"))
        #expect(r.passed, "\(r.text(wallSeconds: nil))")
        let join = try #require(r.joins.first)
        #expect(join.total > 0)
        #expect(join.done > 0)
        #expect(r.pendingReasons.allSatisfy { !$0.reason.isEmpty })
    }

    @Test func aLeaderThatDiesMidPlanLeavesTheRestToTheNextWithNoPlacementStartedTwice() throws {
        let r = try Self.run(try Self.scenario("commit 10ms batch 10\nat 35ms crash leader"))
        #expect(r.passed, "\(r.text(wallSeconds: nil))")
        #expect(r.value(.leaderChanges) == 1)
        #expect((r.value(.uncommittedCommands) ?? 0) > 0)
        #expect(r.violationCount[.noPlacementStartedTwice] == nil)
        #expect(r.value(.crashUnmoved) == 0)
        #expect(r.value(.instancesRunningAtEnd) == Double(r.instancesWanted))
    }

    @Test func withoutAMajorityNothingIsRescheduled() throws {
        // Voters are nodes 0, 10, 20, 30, 40: with three of them down no side has a majority.
        let r = try Self.run(try Self.scenario("at 10s crash node 0\nat 10s crash node 10\nat 10s crash node 20"))
        #expect(r.value(.leaderChanges) == 0)
        #expect((r.value(.crashUnmoved) ?? 0) > 0)
        #expect(r.violationCount[.settledAtEnd] == 1)
    }
}
