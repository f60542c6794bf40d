import Foundation
import MeshAPI
import MeshClient
import Testing

/// The multi-agent end-to-end tests. Serialized (nested suites too): each starts several
/// agents and they would otherwise compete for the machine's two cores.
@Suite(.serialized) struct ClusterE2ETests {}

extension ClusterE2ETests {
    @Suite struct Membership {
        @Test func fiveAgentsMeetThenSeeAKilledOneDeadAndAStoppedOneLeft() async throws {
            let cluster = try await MeshCluster(count: 5)
            defer { cluster.shutdown() }
            try await cluster.waitAllAlive()

            // meshctl sees the same five, as JSON and as a table.
            let json = try await meshctl(["--addr", cluster.agents[0].apiAddress!, "members", "--json"])
            #expect(json.status == 0, "\(json.stderr)")
            let listed = try JSONDecoder().decode([MemberInfo].self, from: Data(json.stdout.utf8))
            #expect(Set(listed.map(\.name)) == Set(cluster.names))
            #expect(listed.allSatisfy { $0.id.count == 64 && ["leader", "voter", "member"].contains($0.role) && $0.status == "alive" })
            #expect(listed.filter { $0.role == "leader" }.count <= 1)
            let table = try await meshctl(["members", "--addr", cluster.agents[1].apiAddress!])
            #expect(table.status == 0 && table.stdout.hasPrefix("NAME") && table.stdout.contains("n1 *"))

            // SIGKILL: no leave is sent, so the others must detect the failure.
            let killed = cluster.agents[4]
            kill(killed.process.processIdentifier, SIGKILL)
            killed.process.waitUntilExit()
            try await cluster.waitForViews([0, 1, 2, 3], ["n4": "dead", "n0": "alive", "n1": "alive", "n2": "alive", "n3": "alive"])

            // SIGTERM: a graceful leave; the others see `left`, not `dead`, and it exits 0.
            #expect(try await cluster.agents[3].stop(signal: SIGTERM) == 0)
            try await cluster.waitForViews([0, 1, 2], ["n3": "left", "n4": "dead", "n0": "alive"])
            let status = try APIClient.decode(StatusInfo.self, try await cluster.client(0).get("/v1/status"))
            #expect(status.members == ["alive": 3, "suspect": 0, "dead": 1, "left": 1])
            #expect(status.consensus.contains("voters reachable"))
        }

        /// The first node, started without `--join`, is killed and started again on a new
        /// port (the OS picks it) without `--join`: from `data_dir/peers` it joins the
        /// members it last knew, who could not have found it at its old address.
        @Test func aRestartedAgentRejoinsTheMembersItLastKnewWithoutJoin() async throws {
            let cluster = try await MeshCluster(count: 3)
            defer { cluster.shutdown() }
            try await cluster.waitAllAlive()
            let first = cluster.agents[0]
            let peersFile = first.dataDir + "/peers"
            try await cluster.eventually("n0 to write the two others to its peers file") {
                let text = (try? String(contentsOfFile: peersFile, encoding: .utf8)) ?? ""
                return text.split(separator: "\n").count == 2
            }
            kill(first.process.processIdentifier, SIGKILL)
            first.process.waitUntilExit()
            let oldPort = first.meshPort
            let again = try await cluster.startAgent(name: "n0", dataDir: first.dataDir, alone: true)
            #expect(again.meshPort != oldPort)
            try await cluster.waitForViews([0, 1, 2], ["n0": "alive", "n1": "alive", "n2": "alive"], timeout: .seconds(10))
            #expect(again.stderr.contains("rejoining the members this agent last knew"))
        }

        @Test func meshctlLeaveStopsTheAgentAndOthersSeeItLeft() async throws {
            let cluster = try await MeshCluster(count: 3)
            defer { cluster.shutdown() }
            try await cluster.waitAllAlive()
            let out = try await meshctl(["--addr", cluster.agents[2].apiAddress!, "leave"])
            #expect(out.status == 0 && out.stdout.contains("left the mesh"), "\(out.stdout) \(out.stderr)")
            try await cluster.waitForViews([0, 1], ["n2": "left"])
            let deadline = ContinuousClock.now + .seconds(15)
            while cluster.agents[2].process.isRunning && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(!cluster.agents[2].process.isRunning)
            #expect(cluster.agents[2].process.terminationStatus == 0)
        }
    }
}
