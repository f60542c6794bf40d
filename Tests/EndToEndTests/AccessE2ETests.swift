import Foundation
import MeshAPI
import MeshClient
import Testing

extension ClusterE2ETests {
    /// The API's doors on real agents: tokens by role, the one bootstrap, revocation, refusals
    /// counted; an API off loopback refuses to start without TLS and serves TLS with it.
    @Suite struct Access {
        /// The HTTP status of a refused call, or 0 when it succeeded.
        static func status(_ call: () async throws(ClientError) -> Data) async -> Int {
            do { _ = try await call(); return 0 } catch {
                if case let .server(status, _) = error { return status }
                return -1
            }
        }

        @Test func tokensGateEveryRouteByRoleAndARevokedTokenIsRefused() async throws {
            let cluster = try await MeshCluster(count: 1, arguments: ["--api-require-token", "true"])
            defer { cluster.shutdown() }
            let addr = try #require(cluster.agents[0].apiAddress)
            let anonymous = cluster.client(0)
            #expect(await Self.status { () throws(ClientError) in try await anonymous.get("/v1/members") } == 401)

            // The first admin token, printed once; a second bootstrap is refused.
            var boot = try await meshctl(["--addr", addr, "--json", "token", "bootstrap"])
            let bootDeadline = ContinuousClock.now + .seconds(20)
            while boot.status != 0, ContinuousClock.now < bootDeadline {   // until the lone agent leads
                try await Task.sleep(for: .milliseconds(200))
                boot = try await meshctl(["--addr", addr, "--json", "token", "bootstrap"])
            }
            let admin = try JSONDecoder().decode(TokenCreated.self, from: Data(boot.stdout.utf8))
            #expect(admin.role == "admin" && admin.secret.hasPrefix("mtk_"))
            let again = try await meshctl(["--addr", addr, "token", "bootstrap", "--name", "second"])
            #expect(again.status == 1 && again.stderr.contains("tokens already"), "\(again.stderr)")

            func make(_ role: String, _ name: String) async throws -> String {
                let out = try await meshctl(["--addr", addr, "--token", admin.secret, "--json", "token", "create", "--role", role, "--name", name])
                #expect(out.status == 0, "\(out.stderr)")
                return try JSONDecoder().decode(TokenCreated.self, from: Data(out.stdout.utf8)).secret
            }
            let reader = APIClient(address: addr, token: try await make("read", "grafana"))
            let operatorClient = APIClient(address: addr, token: try await make("operate", "ci"))
            let adminClient = APIClient(address: addr, token: admin.secret)

            #expect(await Self.status { () throws(ClientError) in try await reader.get("/v1/members") } == 0)
            #expect(await Self.status { () throws(ClientError) in try await reader.put("/v1/vars/k", body: VarSetRequest(value: "v")) } == 403)
            #expect(await Self.status { () throws(ClientError) in try await operatorClient.put("/v1/vars/k", body: VarSetRequest(value: "v")) } == 0)
            #expect(await Self.status { () throws(ClientError) in try await operatorClient.get("/v1/tokens") } == 403)
            #expect(await Self.status { () throws(ClientError) in try await APIClient(address: addr, token: "mtk_forged").get("/v1/status") } == 401)

            // The write is recorded with the token's name, never its secret.
            // (published into the event log a moment after the commit: polled, with a deadline)
            var events: [EventInfo] = []
            let published = ContinuousClock.now + .seconds(10)
            while events.isEmpty, ContinuousClock.now < published {
                events = try APIClient.decode([EventInfo].self, try await reader.get("/v1/events", query: [("kind", "control.var.set")]))
                if events.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(events.last?.attributes["requester"] == "token:ci", "\(events)")

            let list = try APIClient.decode([TokenInfo].self, try await adminClient.get("/v1/tokens"))
            #expect(list.map(\.name) == ["bootstrap", "ci", "grafana"] && list.map(\.role) == ["admin", "operate", "read"])
            let revoke = try await meshctl(["--addr", addr, "--token", admin.secret, "token", "revoke", "grafana"])
            #expect(revoke.status == 0, "\(revoke.stderr)")
            #expect(await Self.status { () throws(ClientError) in try await reader.get("/v1/members") } == 401)

            let metrics = String(decoding: try await adminClient.get("/metrics"), as: UTF8.self)
            #expect(MeshCluster.sample(metrics, #"meshd_api_refused_total{reason="missing_token"}"#) >= 1)
            #expect(MeshCluster.sample(metrics, #"meshd_api_refused_total{reason="unknown_token"}"#) >= 2)
            #expect(MeshCluster.sample(metrics, #"meshd_api_refused_total{reason="insufficient_role"}"#) >= 2)
        }

        @Test func aBannedNodeIsRefusedByEveryAgentAndStaysOutAfterARestart() async throws {
            let cluster = try await MeshCluster(count: 3)
            defer { cluster.shutdown() }
            try await cluster.waitAllAlive()
            let addr = try #require(cluster.agents[0].apiAddress)
            // Until the voter set has grown to all three, banning a voter would leave no
            // majority (the agent refuses it then): wait for three voters.
            let grown = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < grown {
                let out = try await meshctl(["--addr", addr, "--json", "status"])
                if let s = try? JSONDecoder().decode(StatusInfo.self, from: Data(out.stdout.utf8)), s.voters?.count == 3 { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            /// `members ban n2`, again while the mesh has no leader to commit it (HTTP 503/504:
            /// at start, or while the voter set replaces the banned voter).
            func ban() async throws -> (status: Int32, stdout: String, stderr: String) {
                var out = try await meshctl(["--addr", addr, "members", "ban", "n2"])
                let deadline = ContinuousClock.now + .seconds(20)
                while out.status != 0, out.stderr.contains("HTTP 50"), ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(200))
                    out = try await meshctl(["--addr", addr, "members", "ban", "n2"])
                }
                return out
            }
            let first = try await ban()
            #expect(first.status == 0, "\(first.stderr)")
            // Its frames are refused from now on, so the others find it dead; it does not
            // come back by restarting with the same key.
            try await cluster.waitForViews([0, 1], ["n0": "alive", "n1": "alive", "n2": "dead"])
            try await cluster.agents[2].stop(signal: SIGKILL)
            try await cluster.startAgent(name: "n2", dataDir: cluster.agents[2].dataDir)
            try await cluster.waitProbeRounds(3, of: [0, 1])   // the banned node has no one left to probe
            for i in [0, 1] {
                #expect(await cluster.view(i)["n2"] == "dead", "n\(i) let the banned node back")
                let m = try await cluster.metrics(i)
                #expect(MeshCluster.sample(m, #"meshd_frames_rejected_total{reason="banned"}"#) > 0)
            }
            // Banned by its key: a second ban names it by id (it is dead, and no name is needed).
            let again = try await ban()
            #expect(again.status == 1 && again.stderr.contains("banned already"), "\(again.stderr)")
        }

        @Test func anAPIOffLoopbackNeedsTLSAndThenServesItWithTokens() async throws {
            // Without TLS the agent refuses to start and says what to do.
            let plain = try AgentProcess(arguments: ["--bind", "127.0.0.1:0", "--api", "0.0.0.0:0", "--name", "open"])
            plain.process.waitUntilExit()
            defer { plain.removeData() }
            #expect(plain.process.terminationStatus != 0)
            #expect(plain.stderr.contains("api_tls_cert"), "\(plain.stderr)")

            // A self-signed certificate for 127.0.0.1, trusted by the client (curl) alone.
            let dir = NSTemporaryDirectory() + "meshd-tls-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let made = try run("/usr/bin/openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                                                    "-keyout", "\(dir)/key.pem", "-out", "\(dir)/cert.pem", "-days", "1",
                                                    "-subj", "/CN=meshd-test", "-addext", "subjectAltName=IP:127.0.0.1"])
            try #require(made.status == 0, "openssl: \(made.stderr)")
            let agent = try AgentProcess(arguments: ["--bind", "127.0.0.1:0", "--api", "0.0.0.0:0", "--name", "tls",
                                                     "--api-tls-cert", "\(dir)/cert.pem", "--api-tls-key", "\(dir)/key.pem"])
            defer { Foundation.kill(agent.process.processIdentifier, SIGKILL); agent.removeData() }
            try await agent.waitUntilServing()
            #expect(agent.stdout.contains("meshd: api listening on https://"))
            let port = try #require(agent.apiAddress?.split(separator: ":").last.map(String.init))
            let base = "https://127.0.0.1:\(port)"
            func curl(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
                try run("/usr/bin/curl", ["-sS", "--cacert", "\(dir)/cert.pem", "-o", "/dev/stdout", "-w", "\n%{http_code}"] + args)
            }
            #expect(try curl(["\(base)/v1/members"]).stdout.hasSuffix("401"), "no token off loopback")
            var boot = try curl(["-X", "POST", "\(base)/v1/tokens/bootstrap"])
            let deadline = ContinuousClock.now + .seconds(20)
            while !boot.stdout.hasSuffix("201"), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(200))
                boot = try curl(["-X", "POST", "\(base)/v1/tokens/bootstrap"])
            }
            let body = String(boot.stdout.split(separator: "\n").first ?? "")
            let token = try JSONDecoder().decode(TokenCreated.self, from: Data(body.utf8))
            #expect(try curl(["-H", "Authorization: Bearer \(token.secret)", "\(base)/v1/members"]).stdout.hasSuffix("200"))
            let untrusted = try run("/usr/bin/curl", ["-sS", "\(base)/v1/members"])
            #expect(untrusted.status != 0, "a client that does not trust the certificate gets no answer")
        }
    }
}

/// Runs a program to its end and returns its status and output.
func run(_ path: String, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = arguments
    let out = Pipe(), err = Pipe()
    p.standardOutput = out; p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}
