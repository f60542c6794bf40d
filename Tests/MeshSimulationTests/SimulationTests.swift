import Membership
import MeshCore
@testable import MeshSimulation
import Testing

/// Small meshes (tens of nodes) run in virtual time: seconds of wall time in a debug build.
struct SimulationTests {
    /// A LAN scenario of `nodes` nodes with a short warm-up and the given timeline.
    static func scenario(_ name: String, nodes: Int = 24, duration: Duration = .seconds(40),
                         timeline: [TimedAction] = [], expectations: [ExpectedBound] = []) -> Scenario {
        Scenario(name: name, nodes: nodes, profile: .lan, seed: 11, warmup: .seconds(10), bootstrapSpread: .seconds(2),
                 duration: duration, tracerJoinAt: .seconds(2), timeline: timeline, expectations: expectations)
    }

    @Test func sameSeedGivesByteIdenticalReports() throws {
        let s = Self.scenario("determinism", nodes: 20, duration: .seconds(30), timeline: [
            TimedAction(at: .seconds(3), action: .loss(0.05)),
            TimedAction(at: .seconds(5), action: .crash(.count(2))),
            TimedAction(at: .seconds(8), action: .pause(.count(1), length: .milliseconds(700), every: .seconds(3), until: nil)),
        ])
        var a = try Simulation(scenario: s, seed: 5)
        var b = try Simulation(scenario: s, seed: 5)
        var c = try Simulation(scenario: s, seed: 6)
        let ra = a.run().json(wallSeconds: nil), rb = b.run().json(wallSeconds: nil), rc = c.run().json(wallSeconds: nil)
        #expect(ra == rb)
        #expect(ra != rc)
        #expect(!ra.contains("wall_seconds"))
    }

    @Test func crashesAreDetectedByEveryLiveNodeWithinTheBound() throws {
        let s = Self.scenario("crash", timeline: [TimedAction(at: .seconds(5), action: .crash(.count(3)))],
                              expectations: [ExpectedBound(.detectionMaxSeconds, .lessOrEqual, Report.memberlistBound(nodes: 24))])
        var sim = try Simulation(scenario: s)
        let report = sim.run()
        #expect(report.crashes == 3)
        #expect(report.undetectedCrashes == 0)
        #expect(report.detectionLast?.count == 3)
        #expect((report.detectionFirst?.max ?? 99) <= (report.detectionLast?.max ?? 0))
        #expect(report.passed, "\(report.text(wallSeconds: nil))")
        // Every running node holds every crashed node dead, as its own core says.
        let crashed = (0 ..< sim.nodeCount).filter { sim.state(of: $0) == .crashed }
        #expect(crashed.count == 3)
        for o in 0 ..< sim.nodeCount where sim.state(of: o) == .running {
            for c in crashed { #expect(sim.status(of: c, seenBy: o) == .dead) }
        }
    }

    /// `bootstrap converged`: every node starts knowing every other alive, so the mesh is
    /// whole at time 0, nothing is gossiped until something changes, and a crash is still
    /// detected everywhere.
    @Test func aConvergedStartIsWholeAtOnceAndStillDetectsCrashes() throws {
        var s = Self.scenario("converged", nodes: 40, timeline: [TimedAction(at: .seconds(5), action: .crash(.count(2)))],
                              expectations: [ExpectedBound(.detectionMaxSeconds, .lessOrEqual, Report.memberlistBound(nodes: 40))])
        s.convergedStart = true
        s.bootstrapSpread = .zero
        var sim = try Simulation(scenario: s)
        let report = sim.run()
        #expect(report.bootstrapConvergeSeconds == 0)
        #expect(report.undetectedCrashes == 0 && report.crashes == 2)
        #expect(report.falsePositives == 0)
        #expect(report.passed, "\(report.text(wallSeconds: nil))")
        let parsed = try Scenario(parsing: "name c\nnodes 5\nbootstrap converged\n")
        #expect(parsed.convergedStart && parsed.bootstrapSpread == .zero)
    }

    @Test func steadyStateHasNoFalsePositives() throws {
        let s = Self.scenario("steady", nodes: 30, duration: .seconds(60),
                              expectations: [ExpectedBound(.falsePositives, .equal, 0)])
        var sim = try Simulation(scenario: s)
        let report = sim.run()
        #expect(report.falsePositives == 0)
        #expect(report.messagesPerNodeSecond > 0)
        #expect(report.dissemination100Seconds != nil)
        #expect(report.passed, "\(report.text(wallSeconds: nil))")
    }

    /// A partition that heals before suspicions run out: the halves suspect each other, then
    /// refute after the heal and every node sees every other alive again. (A partition long
    /// enough for dead verdicts does not reliably heal with this core: see
    /// simulations/README.md, "Findings".)
    @Test func partitionHealsAndConverges() throws {
        let s = Self.scenario("partition", duration: .seconds(40), timeline: [
            TimedAction(at: .seconds(2), action: .partition([50, 50])),
            TimedAction(at: .seconds(4), action: .heal),
        ], expectations: [ExpectedBound(.convergeSeconds, .lessOrEqual, 20)])
        var sim = try Simulation(scenario: s)
        // Mid-partition: some member of the other half is already suspected; nothing crosses.
        sim.run(until: sim.warmupEndNanoseconds + Duration.seconds(3900).nanoseconds / 1000)
        #expect((12 ..< 24).contains { sim.status(of: $0, seenBy: 1) == .suspect })
        #expect(sim.networkCounters.dropped(.partition) > 0)
        let report = sim.run()
        #expect(report.healConvergeSeconds != nil)
        #expect(report.falsePositives == 0)
        #expect(report.passed, "\(report.text(wallSeconds: nil))")
        for o in 0 ..< sim.nodeCount { for s in 0 ..< sim.nodeCount { #expect(sim.status(of: s, seenBy: o) == .alive) } }
    }

    /// The same partition with every cut link refusing sends at the sender (blackhole
    /// routes): a refused send loses that message only, so the mesh heals as before.
    @Test func aPartitionOfRefusedSendsHealsTheSameWay() throws {
        var s = Self.scenario("partition-refused", duration: .seconds(40), timeline: [
            TimedAction(at: .seconds(2), action: .partition([50, 50])),
            TimedAction(at: .seconds(4), action: .heal),
        ], expectations: [ExpectedBound(.convergeSeconds, .lessOrEqual, 20)])
        s.network.refusedSendShare = 1
        var sim = try Simulation(scenario: s)
        let report = sim.run()
        #expect(sim.networkCounters.dropped(.sendRefused) > 0)
        #expect(sim.networkCounters.dropped(.partition) == 0)
        #expect(report.falsePositives == 0)
        #expect(report.passed, "\(report.text(wallSeconds: nil))")
        for o in 0 ..< sim.nodeCount { for s in 0 ..< sim.nodeCount { #expect(sim.status(of: s, seenBy: o) == .alive) } }
    }

    @Test func aGracefulLeaveIsSeenAsLeft() throws {
        let s = Self.scenario("leave", nodes: 20, duration: .seconds(20), timeline: [
            TimedAction(at: .seconds(3), action: .leave(.node(4))),
        ])
        var sim = try Simulation(scenario: s)
        let report = sim.run()
        #expect(sim.state(of: 4) == .left)
        #expect(report.leaves == 1 && report.leaveSeconds != nil && report.leavesSeenAsDead == 0)
        for o in 0 ..< sim.nodeCount where o != 4 { #expect(sim.status(of: 4, seenBy: o) == .left) }
        #expect(report.passed, "\(report.text(wallSeconds: nil))")
    }

    @Test func aPausedNodeProcessesItsBacklogLate() throws {
        let s = Self.scenario("pause", nodes: 12, duration: .seconds(60), timeline: [
            TimedAction(at: .seconds(2), action: .pause(.node(3), length: .seconds(30), every: nil, until: nil)),
        ])
        var sim = try Simulation(scenario: s)
        let start = sim.warmupEndNanoseconds + Duration.seconds(2).nanoseconds
        // Paused for 30 s: longer than any suspicion timeout, so the others declare it dead…
        sim.run(until: start + Duration.seconds(29).nanoseconds)
        #expect(sim.status(of: 3, seenBy: 0) == .dead)
        // …while it, processing nothing, still believes everyone alive and has counted nothing new.
        #expect(sim.status(of: 0, seenBy: 3) == .alive)
        let probesDuringPause = sim.nodes[3].core!.metrics.probesSent
        #expect(sim.nodes[3].backlog.count > 0)
        // After it resumes it reads the backlog, learns it was declared dead and refutes.
        let report = sim.run()
        #expect(sim.nodes[3].core!.metrics.probesSent > probesDuringPause)
        #expect(sim.nodes[3].core!.metrics.refutations > 0)
        for o in 0 ..< sim.nodeCount { #expect(sim.status(of: 3, seenBy: o) == .alive) }
        #expect(report.falsePositives == 0, "a pause longer than the threshold excuses the verdict")
        #expect(report.passed, "\(report.text(wallSeconds: nil))")
    }

    @Test func shortPausesAndRestartsKeepTheMeshWhole() throws {
        let s = Self.scenario("restarts", nodes: 20, duration: .seconds(60), timeline: [
            TimedAction(at: .seconds(2), action: .pause(.count(1), length: .milliseconds(500), every: .seconds(2), until: nil)),
            TimedAction(at: .seconds(5), action: .restart(.count(2), downtime: .seconds(15))),
            TimedAction(at: .seconds(10), action: .join(2)),
        ], expectations: [ExpectedBound(.falsePositives, .equal, 0)])
        var sim = try Simulation(scenario: s)
        let report = sim.run()
        #expect(report.crashes == 2)
        #expect(report.rejoins?.count == 2)
        #expect(report.joins?.count == 2)
        #expect(sim.nodeCount == 22)
        #expect(report.passed, "\(report.text(wallSeconds: nil))")
    }

    @Test func aFailingBoundFailsTheRunAndNamesTheSeed() throws {
        let s = Self.scenario("impossible", nodes: 16, duration: .seconds(20),
                              timeline: [TimedAction(at: .seconds(2), action: .crash(.count(1)))],
                              expectations: [ExpectedBound(.detectionMaxSeconds, .lessOrEqual, 0.5)])
        var sim = try Simulation(scenario: s, seed: 77)
        let report = sim.run()
        #expect(!report.passed)
        #expect(report.invariants.contains { $0.name == "crash_detected_within_bound" && $0.violation != nil })
        #expect(report.text(wallSeconds: nil).contains("--seed 77"))
        #expect(report.json(wallSeconds: 1).contains("\"crash_detected_within_bound\":\"fail: t="))
    }
}
