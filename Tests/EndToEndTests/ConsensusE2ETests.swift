import TestSupport
import Foundation
import MeshAPI
import MeshClient
import Testing

/// Three real agents: leader election, writes through any member, failover after SIGKILL,
/// and the event log catching up after a restart.
extension ClusterE2ETests {
@Suite struct Consensus {
    func status(_ c: MeshCluster, _ i: Int) async -> StatusInfo? {
        try? APIClient.decode(StatusInfo.self, try await c.client(i).get("/v1/status"))
    }

    /// Polls until `condition` holds, or records `what` with the last statuses seen.
    func eventually(_ c: MeshCluster, _ what: String, timeout: Duration = .seconds(30),
                    _ condition: () async -> Bool) async throws {
        do { return try await poll(what, timeout: timeout, interval: .milliseconds(100)) { await condition() } } catch {}
        var seen: [String] = []
        for i in c.agents.indices where c.agents[i].process.isRunning {
            if let s = await status(c, i) { seen.append("\(s.name): leader=\(s.leader ?? "-") voters=\(s.voters ?? []) \(s.consensus)") }
        }
        Issue.record("timed out waiting for \(what); last seen: \(seen.joined(separator: "; "))")
        throw CancellationError()
    }

    /// `var set` is idempotent, so a client retries it when the answer timed out (a
    /// leadership change in flight), as a user would; anything else fails at once.
    func setVar(_ c: MeshCluster, _ i: Int, _ key: String, _ value: String) async throws -> (status: Int32, stdout: String, stderr: String) {
        var r = try await meshctl(["--addr", c.agents[i].apiAddress!, "var", "set", key, value])
        for _ in 0 ..< 2 where r.status != 0 && r.stderr.contains("HTTP 504") {
            r = try await meshctl(["--addr", c.agents[i].apiAddress!, "var", "set", key, value])
        }
        return r
    }

    @Test func killTheLeaderANewOneIsElectedWritesGoOnAndNothingIsLost() async throws {
        let c = try await MeshCluster(count: 3, prefix: "r")
        defer { c.shutdown() }
        try await c.waitAllAlive()
        try await eventually(c, "three voters and one leader everywhere") {
            var leaders = Set<String>()
            for i in 0 ..< 3 {
                guard let s = await status(c, i), s.voters?.count == 3, let l = s.leader else { return false }
                leaders.insert(l)
            }
            return leaders.count == 1
        }
        // A write through a follower commits.
        let leaderName = try #require(await status(c, 0)?.leader)
        let leader = try #require(c.names.firstIndex(of: leaderName))
        let follower = (leader + 1) % 3
        let first = try await setVar(c, follower, "color", "blue")
        #expect(first.status == 0, "\(first.stderr)")
        // Status shows the commit index and each voter's health, the leader marked.
        let seen = try #require(await status(c, follower))
        #expect((seen.commitIndex ?? 0) > 0 && (seen.appliedIndex ?? 0) > 0)
        #expect(seen.voterHealth?.count == 3)
        #expect(seen.voterHealth?.filter(\.leader).map(\.name) == [leaderName])
        #expect(seen.voterHealth?.allSatisfy { $0.status == "alive" } == true)

        kill(c.agents[leader].process.processIdentifier, SIGKILL)
        c.agents[leader].process.waitUntilExit()
        let survivors = (0 ..< 3).filter { $0 != leader }
        try await eventually(c, "a new leader among the survivors") {
            guard let s = await status(c, survivors[0]), let l = s.leader else { return false }
            return l != leaderName
        }
        let second = try await setVar(c, survivors[1], "shape", "round")
        #expect(second.status == 0, "\(second.stderr)")
        try await eventually(c, "the killed leader to show as a dead or replaced voter") {
            guard let health = await status(c, survivors[0])?.voterHealth else { return false }
            let old = health.first { $0.name == leaderName }
            return old == nil || old?.status == "dead"
        }

        // The old leader comes back as a follower and holds both writes.
        try await c.startAgent(name: leaderName, dataDir: "\(c.root)/\(leaderName)", joining: survivors[0])
        try await eventually(c, "the old leader to catch up") {
            guard let s = await status(c, leader), s.leader != nil, s.leader != leaderName else { return false }
            let vars = try? APIClient.decode(VarsResponse.self, try await c.client(leader).get("/v1/vars", query: [("stale", "1")]))
            return vars?.vars.map(\.key) == ["color", "shape"]
        }
        let read = try await meshctl(["--addr", c.agents[leader].apiAddress!, "var", "get", "color"])
        #expect(read.stdout == "blue\n", "\(read.status) \(read.stderr)")
        // Every member, the restarted one too, learns both writes through the event log:
        // published by the leader of the time, in batches, off the writes' path.
        for i in 0 ..< 3 {
            try await eventually(c, "control.var.set events of both writes at \(c.names[i])") {
                let events = try? APIClient.decode([EventInfo].self, try await c.client(i).get("/v1/events", query: [("kind", "control.var.set")]))
                return Set(events?.compactMap { $0.attributes["key"] } ?? []) == ["color", "shape"]
            }
        }
    }

    @Test func raftRecoverRefusesWithAQuorumAndReformsTheVoterSetWhenTwoOfThreeAreGone() async throws {
        let c = try await MeshCluster(count: 3, prefix: "q")
        defer { c.shutdown() }
        try await c.waitAllAlive()
        try await eventually(c, "three voters") { await status(c, 0)?.voters?.count == 3 }
        let first = try await setVar(c, 0, "color", "blue")
        #expect(first.status == 0, "\(first.stderr)")
        let refused = try await meshctl(["--addr", c.agents[0].apiAddress!, "raft", "recover", "--force"])
        #expect(refused.status == 1 && refused.stderr.contains("quorum"), "\(refused.status) \(refused.stderr)")

        // Two voters are destroyed; the survivor cannot elect anyone.
        for i in [1, 2] {
            kill(c.agents[i].process.processIdentifier, SIGKILL)
            c.agents[i].process.waitUntilExit()
        }
        try await eventually(c, "the survivor to see both others dead") { await status(c, 0)?.members["dead"] == 2 }
        let noLeader = try await meshctl(["--addr", c.agents[0].apiAddress!, "var", "set", "shape", "round"])
        #expect(noLeader.status != 0)
        let unforced = try await meshctl(["--addr", c.agents[0].apiAddress!, "raft", "recover"])
        #expect(unforced.status == 1 && unforced.stderr.contains("force"), "\(unforced.stderr)")
        let recovered = try await meshctl(["--addr", c.agents[0].apiAddress!, "raft", "recover", "--force"])
        #expect(recovered.status == 0, "\(recovered.stderr)")
        #expect(recovered.stdout.contains("voters \(c.names[0])"), "\(recovered.stdout)")
        let second = try await setVar(c, 0, "shape", "round")
        #expect(second.status == 0, "\(second.stderr)")
        let read = try await meshctl(["--addr", c.agents[0].apiAddress!, "var", "get", "color"])
        #expect(read.stdout == "blue\n", "\(read.status) \(read.stderr)")
    }

    @Test func anAgentStoppedWhileOthersLogCatchesUpWhenItReturns() async throws {
        let c = try await MeshCluster(count: 3, prefix: "e")
        defer { c.shutdown() }
        try await c.waitAllAlive()
        let stopped = c.agents[2]
        #expect(try await stopped.stop(signal: SIGTERM) == 0)
        for k in 0 ..< 20 {
            let r = try await meshctl(["--addr", c.agents[k % 2].apiAddress!, "event", "send", "user.step", "n=\(k)"])
            #expect(r.status == 0, "\(r.stderr)")
        }
        try await c.startAgent(name: c.names[2], dataDir: stopped.dataDir)
        try await eventually(c, "the returning agent to hold all 20 user events") {
            let events = try? APIClient.decode([EventInfo].self, try await c.client(2).get("/v1/events", query: [("kind", "user.step")]))
            return events?.count == 20
        }
        let out = try await meshctl(["--addr", c.agents[2].apiAddress!, "--json", "events", "--kind", "member.left"])
        #expect(out.status == 0)
        #expect(out.stdout.contains("\"member\":\"e2\""))
    }
}
}
