import Foundation
import MeshAPI
import MeshClient
import Testing

/// The scheduler's node side with real agents: the minority side of a cut stops what asks
/// it to, a rolling restart keeps count-1 running, git sources are fetched per instance,
/// and an agent restart never starts a placement twice.
extension ClusterE2ETests.Scheduling {
    /// Polls agent `i`'s events of `kind` until one satisfies `condition`; records what was
    /// seen when it does not within `timeout`.
    @discardableResult
    func waitForEvent(_ c: MeshCluster, _ i: Int, _ kind: String, _ what: String, timeout: Duration = .seconds(30),
                      _ condition: (EventInfo) -> Bool) async throws -> EventInfo {
        let deadline = ContinuousClock.now + timeout
        var seen: [EventInfo] = []
        repeat {
            seen = (try? APIClient.decode([EventInfo].self, try await c.client(i).get("/v1/events", query: [("kind", kind)]))) ?? []
            if let e = seen.first(where: condition) { return e }
            try await Task.sleep(for: .milliseconds(200))
        } while ContinuousClock.now < deadline
        Issue.record("timed out waiting for \(what); \(kind) events seen: \(seen.map(\.attributes))")
        throw CancellationError()
    }

    /// Polls agent `i`'s own instances (no other agent asked: the others may be frozen).
    @discardableResult
    func waitForLocalRows(_ c: MeshCluster, _ i: Int, _ what: String, timeout: Duration = .seconds(30),
                          _ condition: ([InstanceRow]) -> Bool) async throws -> [InstanceRow] {
        let deadline = ContinuousClock.now + timeout
        var rows: [InstanceRow] = []
        repeat {
            rows = (try? APIClient.decode([InstanceRow].self, try await c.client(i).get("/v1/local/instances"))) ?? []
            if condition(rows) { return rows }
            try await Task.sleep(for: .milliseconds(200))
        } while ContinuousClock.now < deadline
        let seen = rows.map { "\($0.id) \($0.state) \($0.placement ?? "-")" }.joined(separator: "; ")
        let log = c.agents[i].stderr.split(separator: "\n").suffix(20).joined(separator: "\n")
        Issue.record("timed out waiting for \(what); rows: \(seen)\n\(log)")
        throw CancellationError()
    }

    @Test func theMinoritySideStopsWhatSetsStopAfterDisconnectAndReleasesItWhenItSeesAMajority() async throws {
        let c = try await MeshCluster(count: 3, prefix: "d")
        defer {
            for a in c.agents where a.process.isRunning { kill(a.process.processIdentifier, SIGCONT) }
            c.shutdown()
        }
        try await c.waitAllAlive()
        let lead = try await leader(c)
        let lone = (lead + 1) % 3
        let others = [lead, (lead + 2) % 3]
        let run = try await ctl(c, lone, ["run", "web", "--count", "3", "--stop-after-disconnect", "2", "--", "sleep", "1000"])
        #expect(run.status == 0, "\(run.stderr)")
        let placed = try await waitForRows(c, lone, "web", "one running instance of web per node") { rows in
            Set(Self.running(rows).map(\.node)) == Set(c.names)
        }
        let mine = try #require(placed.first { $0.node == c.names[lone] && $0.state == "running" })

        // Freeze the majority: the lone agent sees no voter but itself, and stops its instance.
        for i in others { kill(c.agents[i].process.processIdentifier, SIGSTOP) }
        try await waitForLocalRows(c, lone, "\(mine.id) stopped on the minority side", timeout: .seconds(45)) { rows in
            rows.contains { $0.placement == mine.placement && $0.state == "stopped" }
        }
        try await waitForEvent(c, lone, "workload.stopped", "the stop_after_disconnect stop event") {
            $0.attributes["placement"] == mine.placement && $0.attributes["reason"]?.contains("stop_after_disconnect") == true
        }

        // The majority is back: the lone node gives the placement up and the slot runs again.
        for i in others { kill(c.agents[i].process.processIdentifier, SIGCONT) }
        try await waitForRows(c, lone, "web", "three running instances of web, \(mine.placement ?? "?") released", timeout: .seconds(60)) { rows in
            let r = Self.running(rows)
            return r.count == 3 && Set(r.map(\.id)).count == 3 && !rows.contains { $0.placement == mine.placement }
        }
        let why = try await ctl(c, lone, ["why", mine.id])
        #expect(why.status == 0)
        let whyJSON = try JSONDecoder().decode(WhyInfo.self, from: Data(try await ctl(c, lone, ["--json", "why", mine.id]).stdout.utf8))
        #expect(whyJSON.placement?.placement != mine.placement)
        try await waitForEvent(c, lone, "control.workload.released", "the release committed") {
            $0.attributes["placement"] == mine.placement
        }
    }

    @Test func aRollingRestartKeepsCountMinusOneRunningThroughout() async throws {
        let c = try await MeshCluster(count: 3, prefix: "r")
        defer { c.shutdown() }
        try await c.waitAllAlive()
        _ = try await leader(c)
        let run = try await ctl(c, 0, ["run", "web", "--count", "3", "--", "sleep", "1000"])
        #expect(run.status == 0, "\(run.stderr)")
        let before = try await waitForRows(c, 0, "web", "three running instances of web") { Self.running($0).count == 3 }
        let oldPIDs = Set(before.compactMap(\.pid))

        let restart = try await ctl(c, 0, ["restart", "web"])
        #expect(restart.status == 0, "\(restart.stderr)")
        // Watch every instance until each runs a new process at the new generation; at no
        // observation may fewer than count-1 run.
        let deadline = ContinuousClock.now + .seconds(60)
        var fewest = 3, last: [InstanceRow] = []
        var done = false
        while ContinuousClock.now < deadline {
            let rows = await ps(c, 0, "web")
            if !rows.isEmpty {
                last = rows
                fewest = min(fewest, Self.running(rows).count)
            }
            let workload = try? APIClient.decode(WorkloadInfo.self, try await c.client(0).get("/v1/workloads/web"))
            let caughtUp = workload.map { $0.placements.count == 3 && $0.placements.allSatisfy { $0.generation == 1 } } ?? false
            let running = Self.running(rows)
            if caughtUp, running.count == 3, Set(running.compactMap(\.pid)).isDisjoint(with: oldPIDs) { done = true; break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(done, "the restart did not finish; last ps: \(last.map { "\($0.id)@\($0.node) \($0.state) pid \($0.pid ?? 0)" })")
        #expect(fewest >= 2, "at some point only \(fewest) of 3 instances ran")
        // Each node reported when its new process started (what longest_running compares).
        let reported = ContinuousClock.now + .seconds(30)
        var placements: [PlacementInfo] = []
        repeat {
            placements = (try? APIClient.decode(WorkloadInfo.self, try await c.client(0).get("/v1/workloads/web")))?.placements ?? []
            if placements.count == 3, placements.allSatisfy({ $0.startedAt != nil }) { break }
            try await Task.sleep(for: .milliseconds(200))
        } while ContinuousClock.now < reported
        #expect(placements.count == 3 && placements.allSatisfy { $0.startedAt != nil }, "\(placements)")
    }

    @Test func aGitSourceIsFetchedPerInstanceUpdatedOnRestartAndABadOneIsAClearError() async throws {
        let c = try await MeshCluster(count: 1, prefix: "g")
        defer { c.shutdown() }
        _ = try await leader(c)
        // A bare repository with a script, pushed from a work tree.
        let repo = c.root + "/site.git", work = c.root + "/site-work"
        func git(_ args: [String], in dir: String? = nil) throws {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["git"] + (dir.map { ["-C", $0] } ?? []) + args
            p.environment = ProcessInfo.processInfo.environment.merging(
                ["GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e"]) { $1 }
            p.standardOutput = FileHandle.nullDevice; p.standardError = FileHandle.nullDevice
            try p.run(); p.waitUntilExit()
            #expect(p.terminationStatus == 0, "git \(args)")
        }
        try git(["init", "--quiet", "--bare", repo])
        try git(["init", "--quiet", "-b", "main", work])
        func commit(_ version: String) throws {
            try "echo site \(version) in $(basename $(pwd)); exec sleep 1000\n".write(toFile: work + "/run.sh", atomically: true, encoding: .utf8)
            try git(["add", "run.sh"], in: work)
            try git(["commit", "--quiet", "-m", version], in: work)
            try git(["push", "--quiet", repo, "main"], in: work)
        }
        try commit("v1")

        let run = try await ctl(c, 0, ["run", "site", "--git", "file://\(repo)", "--ref", "main", "--", "sh", "run.sh"])
        #expect(run.status == 0, "\(run.stderr)")
        try await waitForRows(c, 0, "site", "site.0 running from its checkout") { Self.running($0).count == 1 }
        var logs = try await ctl(c, 0, ["logs", "site.0"])
        #expect(logs.stdout.contains("site v1 in site.0"), "\(logs.stdout) \(logs.stderr)")

        // A new commit, a restart: the instance's checkout is updated before it starts again.
        try commit("v2")
        #expect(try await ctl(c, 0, ["restart", "site"]).status == 0)
        let deadline = ContinuousClock.now + .seconds(30)
        repeat {
            logs = try await ctl(c, 0, ["logs", "site.0"])
            if logs.stdout.contains("site v2") { break }
            try await Task.sleep(for: .milliseconds(200))
        } while ContinuousClock.now < deadline
        #expect(logs.stdout.contains("site v2 in site.0"), "\(logs.stdout)")

        // A repository that is not there: a per-instance start failure naming the fetch.
        let missing = try await ctl(c, 0, ["run", "gone", "--git", "file://\(c.root)/nope.git", "--", "sh", "run.sh"])
        #expect(missing.status == 0, "\(missing.stderr)")
        try await waitForEvent(c, 0, "workload.start_failed", "the failed fetch of gone.0") {
            $0.attributes["instance"] == "gone.0" && $0.attributes["error"]?.contains("could not be fetched") == true
        }

        // Not a git URL, a ref without a URL, an absolute --dir with a source: refused before
        // anything is committed, and counted.
        for (args, message) in [(["run", "b1", "--git", "not a url", "--", "true"], "not a git URL"),
                                (["run", "b2", "--ref", "main", "--", "true"], "without --git"),
                                (["run", "b3", "--git", "file:///x.git", "--dir", "/srv", "--", "true"], "inside the checkout")] {
            let r = try await ctl(c, 0, args)
            #expect(r.status == 1 && r.stderr.contains(message), "\(args): \(r.stderr)")
        }
        #expect(MeshCluster.sample(try await c.metrics(0), "meshd_workload_refused_total{reason=\"bad_source\"}") == 3)
        let names = try APIClient.decode([WorkloadInfo].self, try await c.client(0).get("/v1/workloads")).map(\.name)
        #expect(names == ["site", "gone"])
    }

    @Test func anAgentRestartStartsNoPlacementTwiceAndRestartsWhatItsOwnShutdownStopped() async throws {
        let c = try await MeshCluster(count: 1, prefix: "l")
        defer { c.shutdown() }
        _ = try await leader(c)
        #expect(try await ctl(c, 0, ["run", "once", "--restart", "never", "--", "sh", "-c", "echo done"]).status == 0)
        #expect(try await ctl(c, 0, ["run", "svc", "--", "sleep", "1000"]).status == 0)
        let rows = try await waitForLocalRows(c, 0, "once.0 exited and svc.0 running") { rows in
            rows.contains { $0.id == "once.0" && $0.state.hasPrefix("exited") } && rows.contains { $0.id == "svc.0" && $0.state == "running" }
        }
        let once = try #require(rows.first { $0.id == "once.0" }?.placement)
        let svc = try #require(rows.first { $0.id == "svc.0" })

        // SIGKILL: svc keeps running and is adopted; once, which ended, is not started again.
        kill(c.agents[0].process.processIdentifier, SIGKILL)
        c.agents[0].process.waitUntilExit()
        try await c.startAgent(name: "l0", dataDir: c.agents[0].dataDir)
        #expect(try await ctl(c, 0, ["run", "barrier", "--", "sleep", "1000"]).status == 0)
        try await waitForLocalRows(c, 0, "svc.0 adopted and barrier.0 running (the reconciler has passed)") { rows in
            rows.contains { $0.id == "svc.0" && $0.state == "running" && $0.pid == svc.pid }
                && rows.contains { $0.id == "barrier.0" && $0.state == "running" }
        }
        let started = (try? APIClient.decode([EventInfo].self, try await c.client(0).get("/v1/events", query: [("kind", "workload.started")]))) ?? []
        #expect(started.filter { $0.attributes["placement"] == once }.count == 1, "\(started.map(\.attributes))")

        // SIGTERM: the agent's own shutdown stops svc; the next agent starts it again.
        try await c.agents[0].stop()
        try await c.startAgent(name: "l0", dataDir: c.agents[0].dataDir)
        try await waitForLocalRows(c, 0, "svc.0 started again after a graceful agent restart") { rows in
            rows.contains { $0.id == "svc.0" && $0.state == "running" && $0.pid != svc.pid }
        }
        let again = (try? APIClient.decode([EventInfo].self, try await c.client(0).get("/v1/events", query: [("kind", "workload.started")]))) ?? []
        #expect(again.filter { $0.attributes["placement"] == once }.count == 1)

        // Idle now: the reconciler's timer wakes it, and those wake-ups copy nothing.
        let idle = #"meshd_reconciler_wakeups_total{outcome="idle"}"#
        let base = MeshCluster.sample(try await c.metrics(0), idle)
        let deadline = ContinuousClock.now + .seconds(60)
        var now = base
        while now < base + 2, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(500))
            now = MeshCluster.sample(try await c.metrics(0), idle)
        }
        #expect(now >= base + 2, "idle wake-ups went from \(base) to \(now) within 60 s")
    }
}
