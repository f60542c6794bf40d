import Foundation
import MeshAPI
import MeshClient
import Testing

extension ClusterE2ETests {
    @Suite struct KeyRotation {
        /// How long the mesh is watched after the rotation for a late suspicion.
        /// Probe rounds every agent completes after the last key change before the check
        /// that none raised a suspicion.
        static let settleProbeRounds = 3

        /// Runs the `lan` profile (500 ms probe timeout): a test process sharing two cores
        /// with every other suite can stall an agent past the `local` profile's 200 ms, and
        /// such a suspicion says nothing about key rotation.
        @Test func fiveAgentsRotateTheClusterKeyWithoutSuspectingAnyone() async throws {
            let cluster = try await MeshCluster(count: 5, profile: "lan")
            defer { cluster.shutdown() }
            try await cluster.waitAllAlive()
            let oldKey = try String(contentsOfFile: cluster.keyFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            let newKey = MeshCluster.newKey()
            let addr = cluster.agents[0].apiAddress!

            // Watch every agent's view while the keys change: nobody may look anything but alive.
            let phase = PhaseLabel("quiet")
            let watcher = Task { () -> [String] in
                var anomalies: [String] = []
                while !phase.finished {
                    for i in cluster.agents.indices {
                        for (name, status) in await cluster.view(i) where status != "alive" {
                            anomalies.append("\(phase.name): \(cluster.names[i]) saw \(name) \(status)")
                        }
                    }
                    try? await Task.sleep(for: .milliseconds(100))
                }
                return anomalies
            }

            for (operation, key) in [("install", newKey), ("use", newKey), ("remove", oldKey)] {
                phase.name = operation
                let out = try await meshctl(["--addr", addr, "--json", "keys", operation, key])
                #expect(out.status == 0, "keys \(operation): \(out.stdout) \(out.stderr)")
                let result = try JSONDecoder().decode(KeyOperationResult.self, from: Data(out.stdout.utf8))
                #expect(result.members.count == 5 && result.allOK, "keys \(operation): \(result.members)")
            }
            let list = try APIClient.decode(KeyringInfo.self, try await cluster.client(3).get("/v1/keys"))
            #expect(list.keys.count == 1 && list.keys[0].installed == 5 && list.keys[0].primary == 5, "\(list)")

            // The primary cannot be removed.
            let refused = try await meshctl(["--addr", addr, "keys", "remove", newKey])
            #expect(refused.status == 1 && refused.stderr.contains("primary"), "\(refused.stderr)")

            phase.name = "settling"
            try await cluster.waitProbeRounds(Self.settleProbeRounds)
            phase.finished = true
            let anomalies = await watcher.value
            #expect(anomalies.isEmpty, "\(anomalies.prefix(10))")
            for i in cluster.agents.indices {
                let m = try await cluster.metrics(i)
                #expect(MeshCluster.sample(m, "meshd_suspicions_total") == 0, "\(cluster.names[i]) raised a suspicion")
                #expect(MeshCluster.sample(m, #"meshd_member_changes_total{kind="suspected"}"#) == 0)
                #expect(MeshCluster.sample(m, #"meshd_member_changes_total{kind="dead"}"#) == 0)
            }

            // The keyring is saved (0600): a restarted agent, still given the old key file,
            // seals with the new key and is back among the living.
            let ringFile = "\(cluster.agents[1].dataDir)/keyring"
            let attrs = try FileManager.default.attributesOfItem(atPath: ringFile)
            #expect((attrs[.posixPermissions] as! NSNumber).intValue == 0o600)
            let ring = try String(contentsOfFile: ringFile, encoding: .utf8)
            #expect(ring.contains(newKey) && !ring.contains(oldKey))
            #expect(try await cluster.agents[1].stop(signal: SIGTERM) == 0)
            try await cluster.waitForViews([0, 2], ["n1": "left"])
            try await cluster.startAgent(name: "n1", dataDir: cluster.agents[1].dataDir)
            try await cluster.waitAllAlive()
        }
    }
}
