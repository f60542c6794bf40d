import Foundation
import MeshAPI
import MeshClient
import Testing

extension ClusterE2ETests {
    /// An agent whose data directory is on a full disk (a tmpfs, filled): an event write is
    /// 507 `storage_full` naming the cause (issue 21: it was 400, the client's fault),
    /// counted in `meshd_api_refused_total{reason="storage_full"}`; the agent keeps running,
    /// and the same write succeeds once space returns. Mounting needs root; elsewhere skipped
    /// (`StoreDiskFullTests` covers the store's side with SQLite's page cap).
    @Suite(.enabled(if: DiskMount.available, "needs root to mount a tmpfs")) struct EventDisk {
        /// Room for the agent's files at start (the event log's write-ahead log takes 4 MiB).
        static let tmpfsSize = "32m"
        /// Writes accepted before the full disk must refuse one: SQLite first fills the
        /// space its files already hold (a page or two per event).
        static let maxAcceptedOnAFullDisk = 2000

        @Test func anEventWriteOnAFullDiskIs507StorageFullCountedAndSucceedsOnceSpaceReturns() async throws {
            let cluster = try await MeshCluster(count: 0)
            defer { cluster.shutdown() }
            let dataDir = cluster.root + "/n0"
            try DiskMount.tmpfs(at: dataDir, options: "size=\(Self.tmpfsSize),mode=0700")
            defer { DiskMount.unmount(dataDir) }
            let agent = try await cluster.startAgent(name: "n0", dataDir: dataDir)
            let addr = try #require(agent.apiAddress)
            let filler = dataDir + "/filler"
            try Self.fill(filler)

            let body = #"{"kind":"user.disk","attributes":{"pad":"\#(String(repeating: "x", count: 800))"}}"#
            var accepted = 0
            var refusal: (Int, String)?
            while refusal == nil, accepted < Self.maxAcceptedOnAFullDisk {
                let (status, text) = try APIRefusals.curl(addr, "POST", "/v1/events", body: body)
                if status == 201 { accepted += 1 } else { refusal = (status, text) }
            }
            let (status, text) = try #require(refusal, "\(accepted) writes were all accepted on a full disk")
            #expect(status == 507, "\(text)")
            let answer = try JSONDecoder().decode(APIErrorBody.self, from: Data(text.utf8))
            #expect(answer.error == "storage_full", "\(text)")
            #expect(answer.detail?.contains("disk is full") == true, "\(text)")
            let metrics = try await cluster.metrics(0)
            #expect(MeshCluster.sample(metrics, #"meshd_api_refused_total{reason="storage_full"}"#) == 1)
            #expect(agent.process.isRunning)

            try FileManager.default.removeItem(atPath: filler)
            let (again, againText) = try APIRefusals.curl(addr, "POST", "/v1/events", body: body)
            #expect(again == 201, "\(againText)")
            #expect(agent.process.isRunning)
        }

        /// Writes zeros to `path` until the file system refuses more.
        static func fill(_ path: String) throws {
            guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
                throw DiskMount.Failed(description: "cannot create \(path)")
            }
            defer { try? handle.close() }
            for chunk in [1 << 20, 4096] {
                let zeros = Data(count: chunk)
                while (try? handle.write(contentsOf: zeros)) != nil {}
            }
        }
    }
}
