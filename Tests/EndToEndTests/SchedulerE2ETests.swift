import Foundation
import MeshAPI
import MeshClient
import Testing

/// The scheduler with real agents: `meshctl run` from a follower, instances moving off a
/// killed node and the surplus stopped when it returns, pending work placed when a fitting
/// node joins, and bad specs refused before anything is committed.
extension ClusterE2ETests {
@Suite struct Scheduling {
    func ps(_ c: MeshCluster, _ i: Int, _ name: String) async -> [InstanceRow] {
        (try? APIClient.decode([InstanceRow].self, try await c.client(i).get("/v1/instances", query: [("name", name)]))) ?? []
    }

    func ctl(_ c: MeshCluster, _ i: Int, _ args: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
        try await meshctl(["--addr", c.agents[i].apiAddress!] + args)
    }

    /// Polls `ps` on agent `i` until `condition` holds for the workload's rows, or records
    /// the rows last seen and each agent's last log lines.
    @discardableResult
    func waitForRows(_ c: MeshCluster, _ i: Int, _ name: String, _ what: String, timeout: Duration = .seconds(30),
                     _ condition: ([InstanceRow]) -> Bool) async throws -> [InstanceRow] {
        let deadline = ContinuousClock.now + timeout
        var rows: [InstanceRow] = []
        while ContinuousClock.now < deadline {
            rows = await ps(c, i, name)
            if condition(rows) { return rows }
            try await Task.sleep(for: .milliseconds(200))
        }
        rows = await ps(c, i, name)
        if condition(rows) { return rows }
        let seen = rows.map { "\($0.id)@\($0.node) \($0.state) \($0.placement ?? "-") \($0.detail ?? "")" }.joined(separator: "; ")
        let logs = c.agents.indices.map { "--- \(c.names[$0]):\n" + c.agents[$0].stderr.split(separator: "\n").suffix(15).joined(separator: "\n") }
        Issue.record("timed out waiting for \(what); last ps: \(seen)\n\(logs.joined(separator: "\n"))")
        throw CancellationError()
    }

    func leader(_ c: MeshCluster) async throws -> Int {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let s = try? APIClient.decode(StatusInfo.self, try await c.client(0).get("/v1/status")),
               s.voters?.count == c.agents.count, let l = s.leader, let i = c.names.firstIndex(of: l) { return i }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("no leader with \(c.agents.count) voters within 30 s")
        throw CancellationError()
    }

    static func running(_ rows: [InstanceRow]) -> [InstanceRow] { rows.filter { $0.state == "running" } }

    /// `{{var:KEY}}` in the command and in an environment value: the node's replica's value
    /// when the instance starts.
    @Test func meshVariablesReachTheCommandAndTheEnvironment() async throws {
        let c = try await MeshCluster(count: 1, prefix: "v")
        defer { c.shutdown() }
        _ = try await leader(c)
        #expect(try await ctl(c, 0, ["var", "set", "greeting", "hello"]).status == 0)
        let run = try await ctl(c, 0, ["run", "greet", "--env", "WHO={{var:who}}-{{var:greeting}}", "--",
                                       "sh", "-c", "echo \"$0 $WHO\"; exec sleep 1000", "{{var:greeting}}"])
        #expect(run.status == 0, "\(run.stderr)")
        try await waitForRows(c, 0, "greet", "greet.0 running") { Self.running($0).count == 1 }
        var out = ""
        for _ in 0 ..< 50 where !out.contains("hello") {
            out = try await ctl(c, 0, ["logs", "greet.0"]).stdout
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(out.contains("hello -hello"), "\(out)")
    }

    /// The workload state is in the Raft log and snapshots: every agent stopped at once and
    /// started again on its data directory (new ports), the workload is there, its count
    /// kept, and its instances run again.
    @Test func theWorkloadStateSurvivesARestartOfEveryAgent() async throws {
        let c = try await MeshCluster(count: 3, prefix: "r")
        defer { c.shutdown() }
        try await c.waitAllAlive()
        _ = try await leader(c)
        let run = try await ctl(c, 1, ["run", "web", "--count", "3", "--", "sleep", "1000"])
        #expect(run.status == 0, "\(run.stderr)")
        try await waitForRows(c, 1, "web", "three running") { Self.running($0).count == 3 }
        let dirs = c.agents.map(\.dataDir)
        for a in c.agents { #expect(try await a.stop(signal: SIGTERM) == 0) }
        try await c.startAgent(name: c.names[0], dataDir: dirs[0], alone: true)
        for i in 1 ..< 3 { try await c.startAgent(name: c.names[i], dataDir: dirs[i], joining: 0) }
        try await c.waitAllAlive()
        _ = try await leader(c)
        let workloads = try APIClient.decode([WorkloadInfo].self, try await c.client(2).get("/v1/workloads"))
        #expect(workloads.map(\.name) == ["web"] && workloads.first?.count == 3, "\(workloads)")
        try await waitForRows(c, 2, "web", "three running again after every agent restarted", timeout: .seconds(60)) {
            Self.running($0).count == 3
        }
    }

    @Test func runFromAFollowerMovesOffAKilledNodeAndStopsTheSurplusWhenItReturns() async throws {
        let c = try await MeshCluster(count: 3, prefix: "s")
        defer { c.shutdown() }
        try await c.waitAllAlive()
        let lead = try await leader(c)
        let follower = (lead + 1) % 3, victim = (lead + 2) % 3

        let run = try await ctl(c, follower, ["run", "web", "--count", "3", "--reschedule-after", "3", "--",
                                              "sh", "-c", "echo hello from {{name}} on {{node}}; exec sleep 1000"])
        #expect(run.status == 0, "\(run.stderr)")
        let placed = try await waitForRows(c, follower, "web", "one running instance of web per node") { rows in
            let r = Self.running(rows)
            return r.count == 3 && Set(r.map(\.node)) == Set(c.names)
        }
        // The output of an instance, asked from a node that does not run it.
        let remote = try #require(placed.first { $0.node != c.names[follower] && $0.state == "running" })
        let logs = try await ctl(c, follower, ["logs", remote.id])
        #expect(logs.status == 0 && logs.stdout.contains("hello from \(remote.id) on \(remote.node)"), "\(logs.stdout) \(logs.stderr)")

        // SIGKILL one agent: after reschedule_after its instance runs on a survivor.
        let lost = try #require(placed.first { $0.node == c.names[victim] && $0.state == "running" })
        kill(c.agents[victim].process.processIdentifier, SIGKILL)
        c.agents[victim].process.waitUntilExit()
        try await waitForRows(c, follower, "web", "\(lost.id) running on a survivor", timeout: .seconds(45)) { rows in
            Self.running(rows).contains { $0.id == lost.id && $0.node != c.names[victim] }
        }
        let why = try await ctl(c, follower, ["why", lost.id])
        #expect(why.status == 0 && why.stdout.contains("replacing \(lost.placement ?? "?")"), "\(why.stdout) \(why.stderr)")

        // The agent comes back (its old instance adopted): the leader stops the surplus, as an event.
        try await c.startAgent(name: c.names[victim], dataDir: c.agents[victim].dataDir)
        try await waitForRows(c, follower, "web", "three running instances of web, the surplus stopped") { rows in
            let r = Self.running(rows)
            return r.count == 3 && Set(r.map(\.id)).count == 3 && !rows.contains { $0.placement == lost.placement && $0.state == "running" }
        }
        let deadline = ContinuousClock.now + .seconds(30)
        var stops: [EventInfo] = []
        while ContinuousClock.now < deadline {
            stops = (try? APIClient.decode([EventInfo].self, try await c.client(follower).get("/v1/events", query: [("kind", "workload.stopped")]))) ?? []
            if stops.contains(where: { $0.attributes["placement"] == lost.placement && $0.attributes["reason"]?.contains("surplus") == true }) { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(stops.contains { $0.attributes["placement"] == lost.placement && $0.attributes["reason"]?.contains("surplus") == true },
                "no surplus stop event for \(lost.placement ?? "?"): \(stops.map(\.attributes))")
        // Whichever agents led meanwhile (leadership may move on a loaded machine) planned it.
        var plans = 0.0, placements = 0.0
        for i in c.agents.indices {
            let metrics = try await c.metrics(i)
            plans += MeshCluster.sample(metrics, "meshd_scheduler_plans_total")
            placements += MeshCluster.sample(metrics, "meshd_scheduler_placements_total")
        }
        #expect(plans >= 2)
        #expect(placements >= 4)
    }

    @Test func workThatFitsNowhereIsPendingUntilAFittingNodeJoinsAndBadSpecsAreRefused() async throws {
        let c = try await MeshCluster(count: 1, prefix: "q")
        defer { c.shutdown() }
        _ = try await leader(c)
        let run = try await ctl(c, 0, ["run", "db", "--constraint", "zone=x", "--", "sleep", "1000"])
        #expect(run.status == 0, "\(run.stderr)")
        try await waitForRows(c, 0, "db", "db.0 pending for want of zone=x") { rows in
            rows.contains { $0.id == "db.0" && $0.state == "pending" && $0.detail?.contains("zone=x") == true }
        }
        let why = try await ctl(c, 0, ["--json", "why", "db.0"])
        let info = try JSONDecoder().decode(WhyInfo.self, from: Data(why.stdout.utf8))
        #expect(info.candidates.first?.excluded?.contains("zone=x") == true, "\(why.stdout)")
        #expect(info.pending.first?.reason.contains("zone=x") == true)

        try await c.startAgent(name: "q1", arguments: ["--tag", "zone=x"])
        try await waitForRows(c, 0, "db", "db.0 running on the node with zone=x") { rows in
            Self.running(rows).contains { $0.id == "db.0" && $0.node == "q1" }
        }

        // Bad input is refused before anything is committed, each with its reason, and counted.
        let cases: [([String], String, String)] = [
            (["run", "t1", "--", "echo", "{{nope}}"], "unknown template variable", "bad_template"),
            (["run", "t2", "--count=-1", "--", "true"], "count -1", "bad_count"),
            (["run", "t3"], "no command", "empty_command"),
            (["run", "t4", "--constraint", "zone", "--", "true"], "constraint", "bad_constraint"),
            (["run", "db", "--", "true"], "exists", "name_in_use"),
        ]
        for (args, message, _) in cases {
            let r = try await ctl(c, 0, args)
            #expect(r.status == 1 && r.stderr.contains(message), "\(args): \(r.status) \(r.stderr)")
        }
        let metrics = try await c.metrics(0)
        for (_, _, reason) in cases {
            #expect(MeshCluster.sample(metrics, "meshd_workload_refused_total{reason=\"\(reason)\"}") == 1, "\(reason)")
        }
        let list = try APIClient.decode([WorkloadInfo].self, try await c.client(0).get("/v1/workloads"))
        #expect(list.map(\.name) == ["db"])
    }
}
}
