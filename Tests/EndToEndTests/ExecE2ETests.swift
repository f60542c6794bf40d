import Foundation
import MeshAPI
import MeshClient
import Testing

extension ClusterE2ETests {
    /// `meshctl exec` and `meshctl attach` on real agents: relayed over the mesh from the
    /// agent asked to the node meant, output streamed, status returned, fan-out gathered,
    /// each use recorded, only for `operate` and `admin` tokens.
    @Suite struct Exec {
        /// Events of `kind` in agent `i`'s copy of the log, polled until `count` are there.
        static func events(_ cluster: MeshCluster, _ i: Int, kind: String, count: Int = 1,
                           client: APIClient? = nil) async throws -> [EventInfo] {
            var events: [EventInfo] = []
            try await cluster.eventually("\(count) \(kind) event(s) on \(cluster.names[i]); saw \(events)", timeout: .seconds(15)) {
                events = (try? APIClient.decode([EventInfo].self, try await (client ?? cluster.client(i)).get("/v1/events", query: [("kind", kind)]))) ?? []
                return events.count >= count
            }
            return events
        }

        @Test func aCommandOnAnotherNodeStreamsItsOutputAndReturnsItsStatus() async throws {
            let cluster = try await MeshCluster(count: 2)
            defer { cluster.shutdown() }
            try await cluster.waitAllAlive()
            let addr = try #require(cluster.agents[0].apiAddress)
            // $PPID of the command is the agent that ran it: n1's, though n0 was asked.
            let run = try await meshctl(["--addr", addr, "exec", "n1", "--", "sh", "-c", "echo ran under $PPID; echo oops >&2; exit 3"])
            #expect(run.status == 3, "\(run.stderr)")
            #expect(run.stdout == "ran under \(cluster.agents[1].process.processIdentifier)\n")
            #expect(run.stderr == "oops\n")
            let ok = try await meshctl(["--addr", addr, "exec", "n1", "--", "true"])
            #expect(ok.status == 0 && ok.stdout.isEmpty, "\(ok.stderr)")

            // Recorded: who asked, where, what (by n0); how it ended (by n1).
            let started = try await Self.events(cluster, 0, kind: "exec.started", count: 2)
            #expect(started.first?.node == "n0" && started.first?.attributes["node"] == "n1")
            #expect(started.first?.attributes["command"] == "sh -c 'echo ran under $PPID; echo oops >&2; exit 3'")
            #expect(started.first?.attributes["by"] == "local")
            let finished = try await Self.events(cluster, 0, kind: "exec.finished", count: 2)
            #expect(finished.allSatisfy { $0.node == "n1" } && finished.map { $0.attributes["exit_code"] }.contains("3"), "\(finished)")

            // A command that outlives its timeout is killed with its whole process group.
            let began = ContinuousClock.now
            let slow = try await meshctl(["--addr", addr, "exec", "n1", "--timeout", "1", "--", "sh", "-c",
                                          "sleep 307 & echo started; wait"])
            #expect(slow.status == 124 && slow.stdout == "started\n" && slow.stderr.contains("timeout of 1 s"), "\(slow)")
            #expect(ContinuousClock.now - began < .seconds(15))
            #expect(Self.processes(named: "sleep", argument: "307").isEmpty, "the timed-out command's group outlived it")
            let metrics = try await cluster.metrics(1)
            #expect(MeshCluster.sample(metrics, "meshd_exec_timeouts_total") == 1)
            #expect(MeshCluster.sample(metrics, "meshd_exec_started_total") == 3)
            #expect(MeshCluster.sample(metrics, "meshd_exec_running") == 0)

            // Ctrl-C on meshctl ends the command on its node at once (not after the 15 s a
            // node waits for a reader that went away).
            let interrupted = Process()
            interrupted.executableURL = URL(fileURLWithPath: AgentProcess.binary("meshctl"))
            interrupted.arguments = ["--addr", addr, "exec", "n1", "--", "sleep", "308"]
            interrupted.standardOutput = FileHandle.nullDevice; interrupted.standardError = FileHandle.nullDevice
            try interrupted.run()
            try await cluster.eventually("sleep 308 running on n1") { !Self.processes(named: "sleep", argument: "308").isEmpty }
            let interruptedAt = ContinuousClock.now
            kill(interrupted.processIdentifier, SIGINT)
            try await cluster.eventually("sleep 308 gone after Ctrl-C", timeout: .seconds(10)) {
                Self.processes(named: "sleep", argument: "308").isEmpty
            }
            #expect(ContinuousClock.now - interruptedAt < .seconds(10))
            interrupted.waitUntilExit()
            #expect(interrupted.terminationStatus == 130)

            // Bad input: a clear 4xx in the API's error shape, counted.
            let c = cluster.client(0)
            #expect(await Access.status { () throws(ClientError) in try await c.post("/v1/exec", body: ExecRequest(target: "n1", command: [])) } == 400)
            #expect(await Access.status { () throws(ClientError) in
                try await c.post("/v1/exec", body: ExecRequest(target: "n1", command: ["true"], timeoutSeconds: 999_999)) } == 400)
            #expect(await Access.status { () throws(ClientError) in
                try await c.post("/v1/exec", body: ExecRequest(target: "n1", command: ["echo", String(repeating: "x", count: 9000)])) } == 400)
            #expect(await Access.status { () throws(ClientError) in try await c.post("/v1/exec", body: StdinRequest(text: "not an exec")) } == 400)
            #expect(await Access.status { () throws(ClientError) in try await c.post("/v1/exec", body: ExecRequest(target: "nosuch", command: ["true"])) } == 404)
            #expect(await Access.status { () throws(ClientError) in try await c.get("/v1/exec/feed", query: [("node", "n1")]) } == 404)
            let missing = try await meshctl(["--addr", addr, "exec", "n1", "--", "no-such-program-here"])
            #expect(missing.status == 1 && missing.stderr.contains("not found"), "\(missing)")
            #expect(MeshCluster.sample(try await cluster.metrics(0), #"meshd_exec_refused_total{reason="bad_request"}"#) == 4)
            #expect(MeshCluster.sample(try await cluster.metrics(1), #"meshd_exec_refused_total{reason="command_not_found"}"#) == 1)
            let usage = try await meshctl(["--addr", addr, "exec", "n1"])
            #expect(usage.status == 2, "\(usage)")
        }

        @Test func aFanOutGathersEveryNodeAndListsAStoppedOneAsNotAnswering() async throws {
            let cluster = try await MeshCluster(count: 0)
            defer { cluster.shutdown() }
            for (i, zone) in ["eu", "us", "eu"].enumerated() {
                try await cluster.startAgent(name: "n\(i)", arguments: ["--tag", "zone=\(zone)"])
            }
            try await cluster.waitAllAlive()
            let addr = try #require(cluster.agents[0].apiAddress)

            let tagged = try await meshctl(["--addr", addr, "--json", "exec", "--tag", "zone=eu", "--", "sh", "-c", "echo hi from $PPID"])
            #expect(tagged.status == 0, "\(tagged.stderr)")
            let rows = try JSONDecoder().decode([ExecNodeResult].self, from: Data(tagged.stdout.utf8))
            #expect(rows.map(\.node) == ["n0", "n2"])
            #expect(rows.map(\.stdout) == [0, 2].map { "hi from \(cluster.agents[$0].process.processIdentifier)\n" })
            #expect(rows.allSatisfy { $0.status == "exited" && $0.exitCode == 0 })

            // n2 stops answering (SIGSTOP: alive in membership for a while, silent).
            kill(cluster.agents[2].process.processIdentifier, SIGSTOP)
            defer { kill(cluster.agents[2].process.processIdentifier, SIGCONT) }
            let began = ContinuousClock.now
            let all = try await meshctl(["--addr", addr, "--json", "exec", "--all", "--timeout", "2", "--", "sh", "-c", "echo up; exit 0"])
            #expect(all.status == 1, "one node did not answer: \(all)")
            let gathered = try JSONDecoder().decode([ExecNodeResult].self, from: Data(all.stdout.utf8))
            #expect(gathered.map(\.node) == ["n0", "n1", "n2"], "\(gathered)")
            #expect(gathered.prefix(2).allSatisfy { $0.status == "exited" && $0.stdout == "up\n" }, "\(gathered)")
            #expect(["timeout", "unreachable"].contains(gathered.last?.status ?? ""), "\(gathered)")
            #expect(ContinuousClock.now - began < .seconds(15))
            // The table names it too.
            let table = try await meshctl(["--addr", addr, "exec", "--all", "--timeout", "1", "--", "echo", "up"])
            #expect(table.status == 1)
            let n2 = table.stdout.split(separator: "\n").first { $0.hasPrefix("n2 ") }.map(String.init) ?? ""
            #expect(n2.contains("timeout") || n2.contains("unreachable"), "\(table.stdout)")
            let recorded = try await Self.events(cluster, 0, kind: "exec.started", count: 3)
            #expect(recorded.first?.attributes["node"] == "tag:zone=eu" && recorded.first?.attributes["nodes"] == "2")
            #expect(recorded.last?.attributes["node"] == "all")
        }

        @Test func attachSendsALineToAnInstanceAndReadsItBack() async throws {
            let cluster = try await MeshCluster(count: 2)
            defer { cluster.shutdown() }
            try await cluster.waitAllAlive()
            let addr0 = try #require(cluster.agents[0].apiAddress), addr1 = try #require(cluster.agents[1].apiAddress)
            let dir = cluster.root + "/work"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let started = try await meshctl(["--addr", addr1, "local", "run", "echo", "--stdin", "--workdir", dir, "--env", "GREETING=hello",
                                             "--", "sh", "-c", "while read line; do echo \"got: $line\"; done"])
            #expect(started.status == 0, "\(started.stderr)")

            // exec in the instance's directory and environment, found from n0.
            let inside = try await meshctl(["--addr", addr0, "exec", "echo.0", "--", "sh", "-c", "pwd; echo $GREETING"])
            #expect(inside.status == 0 && inside.stdout == "\(dir)\nhello\n", "\(inside)")

            // attach from n0: a line typed reaches the instance on n1, its answer comes back.
            let attach = Process()
            attach.executableURL = URL(fileURLWithPath: AgentProcess.binary("meshctl"))
            attach.arguments = ["--addr", addr0, "attach", "echo.0"]
            let input = Pipe(), output = Pipe(), errors = Pipe()
            attach.standardInput = input; attach.standardOutput = output; attach.standardError = errors
            let seen = Seen()
            output.fileHandleForReading.readabilityHandler = { h in seen.add(h.availableData) }
            try attach.run()
            defer {
                output.fileHandleForReading.readabilityHandler = nil
                if attach.isRunning { attach.terminate(); attach.waitUntilExit() }
            }
            // The first line may go before attach has found where the output ends: send until one comes back.
            var sent = 0
            try await cluster.eventually("the instance's answer through attach; saw \(seen.text)", timeout: .seconds(20)) {
                if !seen.text.contains("got: line") {
                    sent += 1
                    input.fileHandleForWriting.write(Data("line \(sent)\n".utf8))
                }
                try? await Task.sleep(for: .milliseconds(400))
                return seen.text.contains("got: line")
            }
            let attached = try await Self.events(cluster, 0, kind: "exec.attached")
            #expect(attached.first?.attributes["instance"] == "echo.0" && attached.first?.attributes["node"] == "n1")
            let lines = try await Self.events(cluster, 0, kind: "exec.stdin")
            #expect(lines.first?.attributes["bytes"] == "7")

            // An instance started without --stdin takes no input: 409, said plainly.
            let quiet = try await meshctl(["--addr", addr1, "local", "run", "quiet", "--", "sleep", "300"])
            #expect(quiet.status == 0, "\(quiet.stderr)")
            let c = cluster.client(0)
            #expect(await Access.status { () throws(ClientError) in
                try await c.post("/v1/attach/quiet.0/stdin", body: StdinRequest(text: "x\n")) } == 409)
            #expect(await Access.status { () throws(ClientError) in
                try await c.post("/v1/attach/..%2Fetc/stdin", body: StdinRequest(text: "x\n")) } == 400)
        }

        @Test func execAndAttachAreRefusedWithoutTheOperateRole() async throws {
            let cluster = try await MeshCluster(count: 1, arguments: ["--api-require-token", "true"])
            defer { cluster.shutdown() }
            let addr = try #require(cluster.agents[0].apiAddress)
            var boot = try await meshctl(["--addr", addr, "--json", "token", "bootstrap"])
            let deadline = ContinuousClock.now + .seconds(20)
            while boot.status != 0, ContinuousClock.now < deadline {   // until the lone agent leads
                try await Task.sleep(for: .milliseconds(200))
                boot = try await meshctl(["--addr", addr, "--json", "token", "bootstrap"])
            }
            let admin = try JSONDecoder().decode(TokenCreated.self, from: Data(boot.stdout.utf8)).secret
            func make(_ role: String, _ name: String) async throws -> String {
                let out = try await meshctl(["--addr", addr, "--token", admin, "--json", "token", "create", "--role", role, "--name", name])
                #expect(out.status == 0, "\(out.stderr)")
                return try JSONDecoder().decode(TokenCreated.self, from: Data(out.stdout.utf8)).secret
            }
            let read = try await make("read", "viewer"), operate = try await make("operate", "ops")

            let refused = try await meshctl(["--addr", addr, "--token", read, "exec", "n0", "--", "true"])
            #expect(refused.status == 1 && refused.stderr.contains("needs operate"), "\(refused)")
            let reader = APIClient(address: addr, token: read)
            #expect(await Access.status { () throws(ClientError) in try await reader.post("/v1/exec/fanout", body: ExecFanoutRequest(command: ["true"])) } == 403)
            #expect(await Access.status { () throws(ClientError) in try await reader.get("/v1/exec/abc") } == 403)
            #expect(await Access.status { () throws(ClientError) in try await reader.post("/v1/attach/web.0", body: Optional<StdinRequest>.none) } == 403)
            #expect(await Access.status { () throws(ClientError) in try await APIClient(address: addr, token: nil).post("/v1/exec", body: ExecRequest(target: "n0", command: ["true"])) } == 401)

            let allowed = try await meshctl(["--addr", addr, "--token", operate, "exec", "n0", "--", "echo", "ok"])
            #expect(allowed.status == 0 && allowed.stdout == "ok\n", "\(allowed)")
            let byAdmin = try await meshctl(["--addr", addr, "--token", admin, "exec", "--all", "--", "echo", "ok"])
            #expect(byAdmin.status == 0, "\(byAdmin)")
            let events = try await Self.events(cluster, 0, kind: "exec.started", count: 2, client: APIClient(address: addr, token: admin))
            #expect(events.map { $0.attributes["by"] } == ["token:ops", "token:bootstrap"], "\(events)")
        }

        /// Processes whose command line is `name ... argument` (a leftover of a command exec ran).
        static func processes(named name: String, argument: String) -> [Int32] {
            ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry in
                guard let pid = Int32(entry), let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return nil }
                let parts = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
                return parts.first.map { ($0 as NSString).lastPathComponent } == name && parts.dropFirst().contains(argument) ? pid : nil
            }
        }
    }
}

/// Output a reader thread collects while a test polls it.
private final class Seen: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func add(_ d: Data) { lock.withLock { data += d } }
    var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
}
