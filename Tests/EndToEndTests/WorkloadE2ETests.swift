import TestSupport
import Foundation
import MeshAPI
import MeshClient
import Testing

extension ClusterE2ETests {
    /// The supervisor and statistics wired into real agents: local control on one node,
    /// `ps`, `logs` and `stats` from another, stop past the grace period, adoption after an
    /// agent restart, and bad input answered without harm.
    @Suite struct Workloads {
        /// Agents sample statistics every second here, so cpu and rss show up quickly.
        static let arguments = ["--stats-interval", "1"]

        static func start(_ c: APIClient, _ request: InstanceStartRequest) async throws -> InstanceRow {
            try APIClient.decode(InstanceRow.self, try await c.post("/v1/local/instances", body: request))
        }

        static func instances(_ c: APIClient, path: String = "/v1/instances") async throws -> [InstanceRow] {
            try APIClient.decode([InstanceRow].self, try await c.get(path))
        }

        static func events(_ c: APIClient, kind: String) async throws -> [EventInfo] {
            try APIClient.decode([EventInfo].self, try await c.get("/v1/events", query: [("kind", kind)]))
        }

        /// Polls `probe` until it returns a value, or fails with what `describe` says was last seen.
        static func eventually<T>(_ what: String, timeout: Duration = .seconds(20),
                                  _ probe: () async throws -> T?) async throws -> T {
            do { return try await poll(what, timeout: timeout, interval: .milliseconds(100), probe) } catch {
                Issue.record("\(error)")
                throw CancellationError()
            }
        }

        /// True while `pid` runs; a zombie (killed, not yet reaped by whoever inherited an
        /// adopted process) counts as gone.
        static func isAlive(_ pid: Int32) -> Bool {
            guard kill(pid, 0) == 0, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            return !stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
        }

        @Test func anInstanceStartedOnAIsListedAndReadFromB() async throws {
            let cluster = try await MeshCluster(count: 2, arguments: Self.arguments)
            defer { cluster.shutdown() }
            try await cluster.waitAllAlive()
            let a = cluster.client(0), b = cluster.client(1)
            let row = try await Self.start(a, InstanceStartRequest(
                name: "hello", command: "/bin/sh",
                args: ["-c", "echo first-$((20+22)); while true; do echo tick; sleep 0.2; done"], restart: "never"))
            #expect(row.state == "running" && row.node == "n0" && row.pid != nil)
            // The cluster is SIGKILLed at the end, which leaves instances running: end it here.
            defer { if let pid = row.pid { kill(-pid, SIGKILL) } }

            // ps via B: the instance on n0, with rss from the stats sampler.
            let seen = try await Self.eventually("hello.0 running on n0 with rss, as B lists it") {
                try await Self.instances(b).first { $0.id == "hello.0" && $0.node == "n0" && $0.state == "running" && $0.rss != nil }
            }
            #expect(seen.pid == row.pid && (seen.rss ?? 0) > 0)
            let ps = try await meshctl(["--addr", cluster.agents[1].apiAddress!, "ps", "hello"])
            #expect(ps.status == 0 && ps.stdout.contains("hello") && ps.stdout.contains("n0") && ps.stdout.contains("running"), "\(ps)")

            // logs via B, then follow from the cursor B gave.
            let logs = try await meshctl(["--addr", cluster.agents[1].apiAddress!, "logs", "hello.0", "--tail", "1000"])
            #expect(logs.status == 0 && logs.stdout.hasPrefix("first-42\n"), "\(logs)")
            let first = try APIClient.decode(LogChunkInfo.self, try await b.get("/v1/logs/hello", query: [("format", "json"), ("tail", "1")]))
            #expect(first.node == "n0" && first.instance == "hello.0" && first.text == "tick\n")
            let more = try await Self.eventually("new output after the cursor") { () -> LogChunkInfo? in
                let c = try APIClient.decode(LogChunkInfo.self, try await b.get("/v1/logs/hello.0", query: [
                    ("format", "json"), ("node", "n0"), ("cursor", first.cursor)]))
                return c.text.isEmpty ? nil : c
            }
            #expect(more.text.hasPrefix("tick\n") && !more.gap)
            // The same instance read on its own node.
            let local = String(decoding: try await a.get("/v1/logs/hello.0", query: [("tail", "1000")]), as: UTF8.self)
            #expect(local.hasPrefix("first-42\ntick\n"))

            // stats of n0 from B (meshctl) and the started event in the replicated log.
            let stats = try await meshctl(["--addr", cluster.agents[1].apiAddress!, "--json", "stats", "n0"])
            #expect(stats.status == 0, "\(stats)")
            let info = try JSONDecoder().decode(NodeStatsInfo.self, from: Data(stats.stdout.utf8))
            #expect(info.node == "n0" && (info.memoryTotalBytes ?? 0) > 0 && !info.history.isEmpty)
            let human = try await meshctl(["--addr", cluster.agents[1].apiAddress!, "stats", "n0"])
            #expect(human.status == 0 && human.stdout.contains("node") && human.stdout.contains("n0"))
            _ = try await Self.eventually("workload.started on B's replica") {
                try await Self.events(b, kind: "workload.started").first { $0.attributes["instance"] == "hello.0" && $0.node == "n0" }
            }
        }

        @Test func stoppingAProcessThatIgnoresSIGTERMTakesTheGracePeriodPlusAMargin() async throws {
            let cluster = try await MeshCluster(count: 1, arguments: Self.arguments)
            defer { cluster.shutdown() }
            let c = cluster.client(0)
            let row = try await Self.start(c, InstanceStartRequest(
                name: "stubborn", command: "/bin/sh", args: ["-c", "trap '' TERM; echo ready; while true; do sleep 0.1; done"],
                restart: "always", graceSeconds: 1))
            let pid = try #require(row.pid)
            defer { kill(-pid, SIGKILL) }
            _ = try await Self.eventually("the trap is set") {
                String(decoding: try await c.get("/v1/logs/stubborn.0"), as: UTF8.self).contains("ready") ? true : nil
            }
            let began = ContinuousClock.now
            let result = try APIClient.decode(InstanceStopResult.self, try await c.delete("/v1/local/instances/stubborn.0"))
            let took = ContinuousClock.now - began
            #expect(result.result == "killed by signal 9")
            // The grace period was honoured before the SIGKILL (how much longer it took is the
            // supervisor benchmark's business, not a test's).
            #expect(took >= .seconds(1), "stop took \(took)")
            #expect(!Self.isAlive(pid))
            // Stopped on request: `stopped`, not waiting for a restart despite `always`.
            let after = try await Self.instances(c, path: "/v1/local/instances").first { $0.id == "stubborn.0" }
            #expect(after?.state == "stopped")
        }

        @Test func anAgentRestartAdoptsARunningInstanceAndSIGTERMStopsTheOthers() async throws {
            let cluster = try await MeshCluster(count: 2, arguments: Self.arguments)
            defer { cluster.shutdown() }
            try await cluster.waitAllAlive()
            let c = cluster.client(1)
            let keeper = try await Self.start(c, InstanceStartRequest(name: "keeper", command: "sleep", args: ["1000"], surviveAgent: true))
            let plain = try await Self.start(c, InstanceStartRequest(name: "plain", command: "sleep", args: ["999"]))
            let keeperPID = try #require(keeper.pid), plainPID = try #require(plain.pid)
            defer { kill(-keeperPID, SIGKILL); kill(-plainPID, SIGKILL) }

            let dataDir = cluster.agents[1].dataDir
            #expect(try await cluster.agents[1].stop() == 0)
            #expect(Self.isAlive(keeperPID), "an instance that survives the agent was stopped with it")
            #expect(!Self.isAlive(plainPID), "an instance that does not survive the agent outlived it")

            try await cluster.startAgent(name: "n1", dataDir: dataDir)
            let c2 = cluster.client(1)
            let rows = try await Self.eventually("keeper.0 adopted") {
                let rows = try await Self.instances(c2, path: "/v1/local/instances")
                return rows.contains { $0.id == "keeper.0" && $0.state == "running" } ? rows : nil
            }
            let keepers = rows.filter { $0.id == "keeper.0" }
            #expect(keepers.count == 1 && keepers[0].pid == keeperPID && keepers[0].adopted)
            #expect(!rows.contains { $0.id == "plain.0" && $0.state == "running" })
            _ = try await Self.eventually("workload.adopted recorded") {
                try await Self.events(cluster.client(0), kind: "workload.adopted").first { $0.attributes["pid"] == "\(keeperPID)" }
            }
            _ = try await c2.delete("/v1/local/instances/keeper.0")
            #expect(!Self.isAlive(keeperPID))
        }

        @Test func badInputIsAClientErrorAndAnErrorEventAndTheAgentLives() async throws {
            let cluster = try await MeshCluster(count: 1, arguments: Self.arguments)
            defer { cluster.shutdown() }
            let c = cluster.client(0)
            func refusal(_ r: InstanceStartRequest) async -> (Int, String)? {
                do { _ = try await c.post("/v1/local/instances", body: r) } catch {
                    if case let .server(status, body) = error { return (status, body.detail ?? "") }
                }
                return nil
            }
            let noCommand = await refusal(InstanceStartRequest(name: "a", command: ""))
            #expect(noCommand?.0 == 400 && noCommand?.1.contains("no command") == true, "\(String(describing: noCommand))")
            let missing = await refusal(InstanceStartRequest(name: "b", command: "/no/such/program"))
            #expect(missing?.0 == 400 && missing?.1.contains("not found") == true, "\(String(describing: missing))")
            let noDir = await refusal(InstanceStartRequest(name: "c", command: "sleep", args: ["1"], workdir: "/no/such/dir"))
            #expect(noDir?.0 == 400 && noDir?.1.contains("/no/such/dir") == true, "\(String(describing: noDir))")
            let badName = await refusal(InstanceStartRequest(name: "x.y", command: "sleep"))
            #expect(badName?.0 == 400)
            let cli = try await meshctl(["--addr", cluster.agents[0].apiAddress!, "local", "run", "d", "--", "/no/such/program"])
            #expect(cli.status == 1 && cli.stderr.contains("not found") && cli.stdout.isEmpty, "\(cli)")

            let failed = try await Self.eventually("five workload.start_failed events") { () -> [EventInfo]? in
                let e = try await Self.events(c, kind: "workload.start_failed")
                return e.count >= 5 ? e : nil
            }
            #expect(Set(failed.compactMap { $0.attributes["workload"] }) == ["a", "b", "c", "x.y", "d"])
            #expect(failed.allSatisfy { !($0.attributes["error"] ?? "").isEmpty })
            #expect(cluster.agents[0].process.isRunning)
            let status = try APIClient.decode(StatusInfo.self, try await c.get("/v1/status"))
            #expect(status.name == "n0")
        }
    }
}
