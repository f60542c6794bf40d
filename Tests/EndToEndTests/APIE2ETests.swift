import Foundation
import MeshAPI
import MeshClient
import Testing

/// Whether python3 with prometheus_client is there (scripts/setup.sh installs it).
let prometheusParserAvailable: Bool = {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "-c", "import prometheus_client"]
    p.standardError = FileHandle.nullDevice
    p.standardOutput = FileHandle.nullDevice
    guard (try? p.run()) != nil else { return false }
    p.waitUntilExit()
    return p.terminationStatus == 0
}()

extension ClusterE2ETests {
    @Suite struct API {
        @Test func errorsAreJSONWithFittingStatusCodes() async throws {
            let cluster = try await MeshCluster(count: 1)
            defer { cluster.shutdown() }
            let c = cluster.client(0)

            func failure(_ call: () async throws(ClientError) -> Data) async -> (Int, APIErrorBody)? {
                do { _ = try await call() } catch {
                    if case let .server(status, body) = error { return (status, body) }
                }
                return nil
            }
            let notFound = await failure { () throws(ClientError) in try await c.get("/v1/nothing-here") }
            #expect(notFound?.0 == 404 && notFound?.1.error == "not_found")
            let badJoin = await failure { () throws(ClientError) in try await c.post("/v1/join", body: ["nope": 1]) }
            #expect(badJoin?.0 == 400 && badJoin?.1.error == "bad_request")
            let badAddress = await failure { () throws(ClientError) in try await c.post("/v1/join", body: JoinRequest(addresses: ["no-port"])) }
            #expect(badAddress?.0 == 400)
            let huge = String(repeating: "x", count: 200_000)
            let tooLarge = await failure { () throws(ClientError) in try await c.post("/v1/keys/install", body: KeyRequest(key: huge)) }
            #expect(tooLarge?.0 == 413 && tooLarge?.1.error == "body_too_large")
            let unknownMember = await failure { () throws(ClientError) in try await c.get("/v1/rtt", query: [("a", "ghost")]) }
            #expect(unknownMember?.0 == 404 && unknownMember?.1.error == "unknown_member")
            let key = try String(contentsOfFile: cluster.keyFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            let primary = await failure { () throws(ClientError) in try await c.post("/v1/keys/remove", body: KeyRequest(key: key)) }
            #expect(primary?.0 == 409 && primary?.1.detail?.contains("primary") == true)

            // meshctl: bad usage exits 2, a refusal 1 with the reason on stderr, --json one document.
            #expect(try await meshctl(["members", "--no-such-flag"]).status == 2)
            let refused = try await meshctl(["--addr", cluster.agents[0].apiAddress!, "rtt", "ghost"])
            #expect(refused.status == 1 && refused.stderr.contains("no member named ghost") && refused.stdout.isEmpty)
            // A lone agent leads itself once its first election timeout has run out (up to
            // 2 × 250 ms on the lan profile, longer on a loaded machine): poll, with a deadline.
            var status = try await meshctl(["--addr", cluster.agents[0].apiAddress!, "--json", "status"])
            var info = try JSONDecoder().decode(StatusInfo.self, from: Data(status.stdout.utf8))
            let deadline = ContinuousClock.now + .seconds(15)
            while info.leader == nil, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
                status = try await meshctl(["--addr", cluster.agents[0].apiAddress!, "--json", "status"])
                info = try JSONDecoder().decode(StatusInfo.self, from: Data(status.stdout.utf8))
            }
            #expect(status.status == 0 && info.name == "n0" && info.members["alive"] == 1)
            #expect(info.leader == "n0" && info.voters == ["n0"] && info.quorumReachable == true, "\(info.consensus)")
        }

        /// Fails, never skips, without the parser: scripts/setup.sh installs it.
        @Test func metricsParseWithThePrometheusParser() async throws {
            try #require(prometheusParserAvailable, "needs python3 with prometheus_client: run scripts/setup.sh")
            let cluster = try await MeshCluster(count: 2)
            defer { cluster.shutdown() }
            try await cluster.waitAllAlive()
            let text = try await cluster.metrics(0)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["python3", "-c", """
                import sys
                from prometheus_client.parser import text_string_to_metric_families
                fams = {f.name: f for f in text_string_to_metric_families(sys.stdin.read())}
                assert fams["meshd_frames_rejected"].type == "counter", fams["meshd_frames_rejected"].type
                assert fams["meshd_members"].type == "gauge"
                alive = [s.value for s in fams["meshd_members"].samples if s.labels == {"status": "alive"}]
                assert alive == [2.0], alive
                # Node statistics (Stats module): counters without the _total suffix, units in names.
                assert fams["meshd_node_cpu_seconds"].type == "counter", fams["meshd_node_cpu_seconds"].type
                assert fams["meshd_node_memory_total_bytes"].type == "gauge"
                assert fams["meshd_node_memory_total_bytes"].samples[0].value > 0
                assert fams["meshd_node_network_receive_bytes"].type == "counter"
                # The event log's replication counters.
                assert fams["meshd_event_appended"].type == "counter", fams["meshd_event_appended"].type
                assert fams["meshd_event_origins"].samples[0].value >= 1
                # Raft's (a single-voter mesh: n0 leads itself).
                assert fams["meshd_raft_leader_changes_seen"].type == "counter"
                assert fams["meshd_raft_term"].samples[0].value >= 1
                assert fams["meshd_raft_is_leader"].samples[0].value in (0.0, 1.0)
                reasons = {s.labels["reason"] for s in fams["meshd_raft_step_downs"].samples}
                assert reasons == {"quorum_contact_lost", "newer_term", "removed_from_voters"}, reasons
                assert fams["meshd_raft_storage_save_seconds"].type == "counter"
                print(len(fams))
                """]
            let input = Pipe(), output = Pipe(), errors = Pipe()
            p.standardInput = input; p.standardOutput = output; p.standardError = errors
            try p.run()
            input.fileHandleForWriting.write(Data(text.utf8))
            try input.fileHandleForWriting.close()
            let out = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let err = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            #expect(p.terminationStatus == 0, "prometheus_client refused /metrics: \(err)\n\(text)")
            #expect((Int(out.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) >= 15)
        }
    }
}
