import Foundation
@testable import MeshSimulation
import Testing

/// The control-replica engine (issue 18): the real `RaftNode` among 5 voters, the leader
/// publishing each commit through the real event-log `Replicator`, every node applying
/// through the real `ControlReplica`. The full runs are `meshsim run control-replica`.
struct ControlSimulationTests {
    /// The leader's per-commit messages and bytes at 1,000 nodes may be at most this many
    /// times those at 100: flat, not growing with N.
    static let maxGrowth = 1.25

    /// `simulations/control-replica.scenario`, with a short measured period for `swift test`.
    static func scenario(nodes: Int, distribution: ControlScenario.Distribution = .events) throws -> ControlScenario {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("simulations")
        var s = try ControlScenario(parsing: String(contentsOf: folder.appendingPathComponent("control-replica.scenario"), encoding: .utf8))
        s.nodes = nodes
        s.distribution = distribution
        s.warmup = .seconds(3)
        s.duration = .seconds(3)
        s.settle = .seconds(4)
        return s
    }

    static func run(_ s: ControlScenario, seed: UInt64? = nil) throws -> ControlSimReport {
        var sim = try ControlSimulation(scenario: s, seed: seed)
        return sim.run()
    }

    /// How much the leader's per-commit messages and bytes grew from `small` to `large`.
    static func growth(_ small: ControlSimReport, _ large: ControlSimReport) throws -> (messages: Double, bytes: Double) {
        let m = try #require(large.value(.leaderMessagesPerCommit)) / #require(small.value(.leaderMessagesPerCommit))
        let b = try #require(large.value(.leaderBytesPerCommit)) / #require(small.value(.leaderBytesPerCommit))
        return (m, b)
    }

    @Test func theScenarioFileParsesAndBadLinesAreRefused() throws {
        let s = try Self.scenario(nodes: 1000)
        #expect(s.name == "control-replica" && s.voters == 5 && s.writesPerSecond == 20 && s.distribution == .events)
        #expect(!s.expectations.isEmpty)
        #expect(RaftScenario.engine(of: "name x\nengine control\n") == "control")
        #expect(throws: ScenarioError.self) { try ControlScenario(parsing: "name x\nnodes 10\nvoters 4\n") }
        #expect(throws: ScenarioError.self) { try ControlScenario(parsing: "name x\nnodes 10\ndistribute raft\n") }
        #expect(throws: ScenarioError.self) { try ControlScenario(parsing: "name x\nnodes 10\nwrites 20\n") }
    }

    @Test func sameSeedSameReport() throws {
        let s = try Self.scenario(nodes: 40)
        let a = try Self.run(s, seed: 3).json(wallSeconds: nil), b = try Self.run(s, seed: 3).json(wallSeconds: nil)
        let c = try Self.run(s, seed: 4).json(wallSeconds: nil)
        #expect(a == b)
        #expect(a != c)
    }

    /// The scenario at N = 100 and N = 1,000: every member applies every write within the
    /// bound, in order, with the leader's state; and the leader's cost per commit is flat.
    @Test func everyMemberKeepsUpAndTheLeadersCostPerCommitIsFlatInN() throws {
        let small = try Self.run(Self.scenario(nodes: 100))
        let large = try Self.run(Self.scenario(nodes: 1000))
        for r in [small, large] {
            #expect(r.passed, "\(r.text(wallSeconds: nil))")
            #expect(r.invariants.allSatisfy { $0.1 == nil })
            #expect(r.commits >= 55, "\(r.commits) commits in 3 s of 20 writes/s")
            #expect(r.statesChecked > 0)
            #expect(r.distinctDigests == 1)
        }
        let g = try Self.growth(small, large)
        #expect(g.messages <= Self.maxGrowth && g.bytes <= Self.maxGrowth,
                "leader per commit grew \(g.messages)× in messages, \(g.bytes)× in bytes from 100 to 1,000 nodes")
    }

    /// The same check fails when the leader replicates to every node itself (every other
    /// node a Raft learner, as etcd's learners would): its cost per commit grows with N.
    @Test func theFlatnessCheckFailsWhenTheLeaderReplicatesToEveryNode() throws {
        let small = try Self.run(Self.scenario(nodes: 30, distribution: .learners))
        let large = try Self.run(Self.scenario(nodes: 100, distribution: .learners))
        for r in [small, large] {
            #expect(r.invariants.allSatisfy { $0.1 == nil }, "\(r.text(wallSeconds: nil))")
        }
        let g = try Self.growth(small, large)
        #expect(g.messages > Self.maxGrowth && g.bytes > Self.maxGrowth)
    }
}
