import Consensus
import MeshCore
@testable import MeshSimulation
import Testing

/// Small versions of the Raft scenarios: real `RaftNode` cores on virtual time, seconds of
/// wall time in a debug build. The full ones are `meshsim run raft-...` (simulations/).
struct RaftSimulationTests {
    static func scenario(_ body: String, duration: String = "20s") throws -> RaftScenario {
        try RaftScenario(parsing: """
            name test
            engine raft
            voters 3
            warmup 3s
            duration \(duration)
            settle 10s
            clients 2 every 50ms
            \(body)
            """)
    }

    @Test func theEngineLineSelectsTheRaftEngine() throws {
        #expect(RaftScenario.engine(of: "name x\nengine raft # consensus\n") == "raft")
        #expect(RaftScenario.engine(of: "name x\nnodes 10\n") == "membership")
        #expect(throws: ScenarioError.self) { try RaftScenario(parsing: "name x\nengine raft\nat 1s crash everyone\n") }
        #expect(throws: ScenarioError.self) { try RaftScenario(parsing: "name x\nengine raft\nvoters 3\nat 1s crash node 9\n") }
    }

    @Test func sameSeedSameReport() throws {
        let s = try Self.scenario("at 0s chaos every 2s until 15s")
        var a = RaftSimulation(scenario: s, seed: 3), b = RaftSimulation(scenario: s, seed: 3), c = RaftSimulation(scenario: s, seed: 4)
        let ra = a.run().json(wallSeconds: nil), rb = b.run().json(wallSeconds: nil), rc = c.run().json(wallSeconds: nil)
        #expect(ra == rb)
        #expect(ra != rc)
    }

    @Test func aCrashedLeaderIsReplacedAndNoAcknowledgedWriteIsLost() throws {
        var sim = RaftSimulation(scenario: try Self.scenario("at 2s restart leader after 3s\nexpect failover_max_seconds <= 1"))
        let r = sim.run()
        #expect(r.passed, "\(r.text(wallSeconds: nil))")
        #expect(r.failover?.count == 1)
        #expect((r.value(.acknowledgedWrites) ?? 0) > 100)
        #expect(r.value(.lostWrites) == 0)
    }

    @Test func anIsolatedLeaderStepsDownWithinTheCheckQuorumInterval() throws {
        var sim = RaftSimulation(scenario: try Self.scenario("voters 5\nat 2s isolate leader\nat 8s heal"))
        let r = sim.run()
        #expect(r.passed, "\(r.text(wallSeconds: nil))")
        // Check-quorum runs every election timeout (250 ms): at most two of them.
        #expect((r.stepDown?.max ?? 99) <= 0.5)
    }

    @Test func randomPartitionsAndCrashesKeepRaftSafeOverSeeds() throws {
        let s = try Self.scenario("voters 5\nlearners 1\nat 0s chaos every 1s until 25s", duration: "30s")
        for seed: UInt64 in 1 ... 4 {
            var sim = RaftSimulation(scenario: s, seed: seed)
            let r = sim.run()
            #expect(r.passed, "seed \(seed): \(r.text(wallSeconds: nil))")
        }
    }

    @Test func damagedDisksAreDetectedAndTheNodeRefills() throws {
        let s = try Self.scenario("""
            torn_writes on
            policy voters 3 grace 5s
            at 1s corrupt follower flip after 1s
            at 10s corrupt follower truncate after 1s
            """, duration: "25s")
        var sim = RaftSimulation(scenario: s)
        let r = sim.run()
        #expect(r.passed, "\(r.text(wallSeconds: nil))")
        #expect(r.value(.corruptionsDetected) == 2)
        #expect(r.value(.refilledNodes) == 2)
    }

    @Test func aWipedVoterIsReplacedByTheVoterPolicy() throws {
        let s = try Self.scenario("policy voters 3 grace 5s\nat 1s wipe follower after 2s", duration: "25s")
        var sim = RaftSimulation(scenario: s)
        let r = sim.run()
        #expect(r.passed, "\(r.text(wallSeconds: nil))")
        #expect(r.value(.voterReplacements) == 1)
    }

    @Test func aLaggingFollowerCatchesUpByInstallSnapshotInChunks() throws {
        let s = try Self.scenario("snapshot every 300 padding 150000\nclients 4 every 10ms\nat 1s restart follower after 8s", duration: "20s")
        var sim = RaftSimulation(scenario: s)
        let r = sim.run()
        #expect(r.passed, "\(r.text(wallSeconds: nil))")
        #expect((r.value(.snapshotsInstalled) ?? 0) >= 1)
        #expect(r.value(.lostWrites) == 0)
    }

    /// The checker itself: a log that changes a committed entry is reported.
    @Test func theSafetyCheckerCatchesAChangedCommittedEntry() {
        var checker = RaftSafety()
        let a = RaftSimulationTests.node(commit: 2, commands: [[1], [2]])
        let b = RaftSimulationTests.node(commit: 2, commands: [[1], [3]])
        _ = checker.observe(slot: 0, node: a, at: 0)
        #expect(checker.violationCount == 0)
        _ = checker.observe(slot: 1, node: b, at: 0)
        #expect(checker.violationCount == 1)
    }
}

extension RaftSimulationTests {
    /// A follower whose log holds `commands` (term 1) committed up to `commit`.
    static func node(commit: UInt64, commands: [[UInt8]]) -> RaftNode {
        let id = NodeID(w0: 1, w1: 0, w2: 0, w3: 0)
        let log = commands.enumerated().map { LogEntry(term: Term(1), index: LogIndex(UInt64($0.offset + 1)), command: $0.element) }
        return RaftNode(id: id, voters: [id], settings: .lan, random: SeededRandom(seed: 1), now: .zero,
                        hardState: HardState(term: Term(1), commit: LogIndex(commit)), log: log)
    }
}
