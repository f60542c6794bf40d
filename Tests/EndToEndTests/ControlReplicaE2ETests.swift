import Foundation
import MeshAPI
import MeshClient
import Testing

/// Five real agents, three of them voters: every member, voter or not, answers
/// linearizable reads of the control state right (issue 18), also after a restart with
/// its data directory and one without.
extension ClusterE2ETests {
@Suite struct ControlReplica {
    let consensus = Consensus()

    func readEverywhere(_ c: MeshCluster, _ agents: [Int], _ key: String) async throws -> [String: String] {
        try await withThrowingTaskGroup(of: (String, String).self) { group in
            for i in agents {
                group.addTask {
                    let r = try await meshctl(["--addr", c.agents[i].apiAddress!, "var", "get", key])
                    return (c.names[i], r.status == 0 ? r.stdout : "exit \(r.status): \(r.stderr)")
                }
            }
            var out: [String: String] = [:]
            for try await (name, text) in group { out[name] = text }
            return out
        }
    }

    @Test func aWriteOnAPlainMemberIsReadRightOnEveryAgentAndAfterRestarts() async throws {
        let c = try await MeshCluster(count: 5, prefix: "p")
        defer { c.shutdown() }
        try await c.waitAllAlive()
        try await consensus.eventually(c, "three voters and one leader known everywhere") {
            var leaders = Set<String>()
            for i in 0 ..< 5 {
                guard let s = await consensus.status(c, i), s.voters?.count == 3, let l = s.leader else { return false }
                leaders.insert(l)
            }
            return leaders.count == 1
        }
        let voters = Set(try #require(await consensus.status(c, 0)?.voters))
        let plain = (0 ..< 5).filter { !voters.contains(c.names[$0]) }
        #expect(plain.count == 2)
        let member = plain[0], other = plain[1]

        // Written on a plain member: readable there at once (read-your-writes), even stale.
        let set = try await consensus.setVar(c, member, "z", "3")
        #expect(set.status == 0, "\(set.stderr)")
        let local = try APIClient.decode(VarsResponse.self, try await c.client(member).get("/v1/vars/z", query: [("stale", "1")]))
        #expect(local.vars.first?.value == "3" && local.stale && local.appliedIndex > 0)
        // A linearizable read on every agent at once, right everywhere.
        let reads = try await readEverywhere(c, Array(0 ..< 5), "z")
        #expect(reads.values.allSatisfy { $0 == "3\n" }, "\(reads)")
        // A value too large for an event (900 bytes of attributes) reaches the members too:
        // their replicas install the leader's state at the gap.
        let big = String(repeating: "b", count: 2000)
        let setBig = try await consensus.setVar(c, other, "big", big)
        #expect(setBig.status == 0, "\(setBig.stderr)")
        let bigReads = try await readEverywhere(c, plain, "big")
        #expect(bigReads.values.allSatisfy { $0 == big + "\n" }, "\(bigReads.mapValues { $0.prefix(80) })")

        // Status and metrics show the replica's position on a plain member.
        let s = try #require(await consensus.status(c, other))
        #expect((s.appliedIndex ?? 0) >= local.appliedIndex && s.lagEntries != nil, "\(s)")
        let metrics = try await c.metrics(other)
        #expect(MeshCluster.sample(metrics, "meshd_control_applied_index") >= Double(local.appliedIndex), "\(metrics)")
        #expect(metrics.contains("meshd_control_lag_entries "))
        // Its linearizable reads ask a majority of the voters, not the leader, once its
        // replica knows the voters' configuration (one of the two reads at least: a replica
        // that installed the leader's state may know none for a while and asks the leader).
        #expect(MeshCluster.sample(metrics, "meshd_quorum_reads_total") >= 1, "\(metrics)")

        // A plain member stopped while a write commits, restarted on its data directory.
        let stoppedDir = c.agents[member].dataDir
        #expect(try await c.agents[member].stop(signal: SIGTERM) == 0)
        let whileAway = try await consensus.setVar(c, other, "z", "4")
        #expect(whileAway.status == 0, "\(whileAway.stderr)")
        try await c.startAgent(name: c.names[member], dataDir: stoppedDir, joining: other)
        try await consensus.eventually(c, "the restarted member to know a leader") { await consensus.status(c, member)?.leader != nil }
        let afterRestart = try await readEverywhere(c, [member], "z")
        #expect(afterRestart.values.allSatisfy { $0 == "4\n" }, "\(afterRestart)")

        // The other plain member loses its data directory: a new, empty one.
        #expect(try await c.agents[other].stop(signal: SIGTERM) == 0)
        try? FileManager.default.removeItem(atPath: c.agents[other].dataDir)
        try await c.startAgent(name: c.names[other], dataDir: "\(c.root)/\(c.names[other])-empty", joining: member)
        try await consensus.eventually(c, "the emptied member to know a leader") { await consensus.status(c, other)?.leader != nil }
        let afterLoss = try await readEverywhere(c, [other], "z")
        #expect(afterLoss.values.allSatisfy { $0 == "4\n" }, "\(afterLoss)")
        let bigAfterLoss = try await readEverywhere(c, [other], "big")
        #expect(bigAfterLoss.values.allSatisfy { $0 == big + "\n" })
    }
}
}
