import Foundation
import MeshAPI
import MeshClient
import Testing

extension ClusterE2ETests {
    /// Output that cannot be written, through a real agent: an instance's log folder on a
    /// read-only file system, and on a full one (a 64 KiB tmpfs). Each is an error event with
    /// the reason; the agent keeps answering and the process is not blocked. Also who asked:
    /// the events of requested starts and stops name the client and `--as`.
    ///
    /// Mounting needs root (CAP_SYS_ADMIN); where it is refused these tests are skipped
    /// (the supervisor's own tests cover the same errors with a chmod'ed folder).
    @Suite(.enabled(if: DiskMount.available, "needs root to mount a tmpfs")) struct WorkloadDisk {
        @Test func aReadOnlyLogFolderIsAStartFailedEventNamingTheAskerAndTheAgentLives() async throws {
            let cluster = try await MeshCluster(count: 1, arguments: Workloads.arguments)
            defer { cluster.shutdown() }
            let folder = cluster.agents[0].dataDir + "/logs/ro.0"
            try DiskMount.tmpfs(at: folder, options: "ro,size=64k")
            defer { DiskMount.unmount(folder) }
            let alice = APIClient(address: cluster.agents[0].apiAddress!, token: nil, user: "alice")

            var refused: (Int, String)?
            do { _ = try await alice.post("/v1/local/instances", body: InstanceStartRequest(name: "ro", command: "/bin/echo", args: ["hi"])) } catch {
                if case let .server(status, body) = error { refused = (status, body.detail ?? "") }
            }
            #expect(refused?.0 == 500 && refused?.1.contains("Read-only file system") == true, "\(String(describing: refused))")
            let failed = try await Workloads.eventually("workload.start_failed for ro.0") {
                try await Workloads.events(alice, kind: "workload.start_failed").first { $0.attributes["instance"] == "ro.0" }
            }
            #expect(failed.attributes["error"]?.contains("Read-only file system") == true, "\(failed.attributes)")
            #expect(failed.attributes["user"] == "alice" && failed.attributes["by"] == "local", "\(failed.attributes)")
            #expect(failed.attributes["client"]?.hasPrefix("127.0.0.1:") == true, "\(failed.attributes)")

            // The agent lives and runs other instances; their events name whoever asked.
            let row = try await Workloads.start(alice, InstanceStartRequest(name: "ok", command: "sleep", args: ["30"], restart: "never"))
            let pid = try #require(row.pid)
            defer { kill(-pid, SIGKILL) }
            let started = try await Workloads.eventually("workload.started for ok.0") {
                try await Workloads.events(alice, kind: "workload.started").first { $0.attributes["instance"] == "ok.0" }
            }
            #expect(started.attributes["user"] == "alice", "\(started.attributes)")
            let stop = try await meshctl(["--addr", cluster.agents[0].apiAddress!, "--as", "bob", "local", "stop", "ok.0"])
            #expect(stop.status == 0, "\(stop)")
            let stopped = try await Workloads.eventually("workload.stopped for ok.0") {
                try await Workloads.events(alice, kind: "workload.stopped").first { $0.attributes["instance"] == "ok.0" }
            }
            #expect(stopped.attributes["user"] == "bob" && stopped.attributes["client"] != nil, "\(stopped.attributes)")
            #expect(cluster.agents[0].process.isRunning)
        }

        @Test func aFullDiskIsALogWriteFailedEventAndNeitherTheProcessNorTheAgentStalls() async throws {
            let cluster = try await MeshCluster(count: 1, arguments: Workloads.arguments)
            defer { cluster.shutdown() }
            let folder = cluster.agents[0].dataDir + "/logs/flood.0"
            try DiskMount.tmpfs(at: folder, options: "size=64k")
            defer { DiskMount.unmount(folder) }
            let marker = cluster.root + "/flood-done"
            let c = cluster.client(0)
            // 2 MB of output into 64 KiB, then a sign of life outside the full disk.
            let row = try await Workloads.start(c, InstanceStartRequest(
                name: "flood", command: "/bin/sh",
                args: ["-c", "yes 0123456789 | head -c 2000000; touch \(marker); exec sleep 30"], restart: "never"))
            let pid = try #require(row.pid)
            defer { kill(-pid, SIGKILL) }
            let failed = try await Workloads.eventually("workload.log_write_failed for flood.0") {
                try await Workloads.events(c, kind: "workload.log_write_failed").first { $0.attributes["instance"] == "flood.0" }
            }
            #expect(failed.attributes["stream"] == "stdout", "\(failed.attributes)")
            #expect(failed.attributes["reason"]?.contains("No space left on device") == true, "\(failed.attributes)")
            // The process was not blocked: its output was dropped, and it went on.
            _ = try await Workloads.eventually("the flood finished") { FileManager.default.fileExists(atPath: marker) ? true : nil }
            let status = try APIClient.decode(StatusInfo.self, try await c.get("/v1/status"))
            #expect(status.name == "n0")
            let listed = try await Workloads.instances(c, path: "/v1/local/instances").first { $0.id == "flood.0" }
            #expect(listed?.state == "running")
            #expect(cluster.agents[0].process.isRunning)
        }
    }
}

/// Small tmpfs mounts for the disk tests (root only).
enum DiskMount {
    /// True when this process may mount (a trial tmpfs mount works).
    static let available: Bool = {
        guard geteuid() == 0 else { return false }
        let probe = NSTemporaryDirectory() + "meshd-mount-probe-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: probe) }
        guard (try? tmpfs(at: probe, options: "size=4k")) != nil else { return false }
        unmount(probe)
        return true
    }()

    struct Failed: Error, CustomStringConvertible { let description: String }

    static func tmpfs(at path: String, options: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let status = run("/bin/mount", ["-t", "tmpfs", "-o", options, "tmpfs", path])
        guard status == 0 else { throw Failed(description: "mount tmpfs on \(path): exit \(status)") }
    }

    static func unmount(_ path: String) { _ = run("/bin/umount", ["-l", path]) }

    private static func run(_ tool: String, _ arguments: [String]) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = arguments
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }
}
