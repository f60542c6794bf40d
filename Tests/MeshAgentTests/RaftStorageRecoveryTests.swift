@testable import Consensus
import Foundation
import Logging
@testable import MeshAgent
import MeshCore
import MeshWire
import Testing
@testable import Storage

/// A damaged `raft.db` at start: the agent keeps the file aside, starts empty and
/// abstaining, and refills; it neither stops nor votes with bad state.
@Suite(.serialized) struct RaftStorageRecoveryTests {
    let dir = NSTemporaryDirectory() + "meshd-raft-recovery-\(UUID().uuidString)"
    init() { try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }

    func open(_ i: Int, _ key: SigningKeyPair, mesh: LoopbackMesh) throws -> ConsensusService.Opened {
        let d = "\(dir)/n\(i)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return try ConsensusService.open(dataDir: d, id: key.nodeID, bootstrap: i == 0, settings: .lan,
                                         policy: VoterPolicy(desiredVoters: 3, deadGrace: .milliseconds(500)),
                                         transport: LoopbackTransport(mesh: mesh, me: key.nodeID), now: clockNow,
                                         logger: Logger(label: "test"))
    }

    func files(_ i: Int) -> [String] { (try? FileManager.default.contentsOfDirectory(atPath: "\(dir)/n\(i)")) ?? [] }

    @Test func aFileThatIsNotADatabaseIsKeptAsideAndTheNodeStartsAbstaining() async throws {
        let mesh = LoopbackMesh()
        let k = SigningKeyPair(seed: [UInt8](repeating: 77, count: 32))!
        try FileManager.default.createDirectory(atPath: "\(dir)/n5", withIntermediateDirectories: true)
        let junk = Data((0 ..< 8192).map { UInt8(truncatingIfNeeded: $0 &* 131) })
        try junk.write(to: URL(fileURLWithPath: "\(dir)/n5/raft.db"))
        let opened = try open(5, k, mesh: mesh)
        let reset = try #require(opened.reset)
        #expect(reset.reason.contains("not a database"))
        #expect(reset.keptAt.hasPrefix("\(dir)/n5/raft.db.damaged-"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: reset.keptAt)) == junk)     // kept as it was
        #expect(RaftStorageRecovery.isAbstaining(dataDir: "\(dir)/n5"))
        #expect(await opened.service.status.voters.isEmpty)
    }

    @Test func aVoterWithACorruptedLogEntryRestartsAbstainingIsReplacedAndRefills() async throws {
        let mesh = LoopbackMesh()
        let keys = (0 ..< 3).map { SigningKeyPair(seed: [UInt8](repeating: UInt8($0 + 90), count: 32))! }
        var services: [ConsensusService] = []
        for (i, k) in keys.enumerated() {
            let s = try open(i, k, mesh: mesh).service
            await mesh.attach(s, as: k.nodeID)
            services.append(s)
        }
        let allAlive = await LoopbackMesh.startAll(services, ids: keys.map(\.nodeID))
        #expect(await eventually("three voters") { await services[0].status.voters.count == 3 })
        guard case .success = await services[0].submit(.setVar(key: "color", value: "blue"), requester: "test") else {
            Issue.record("write refused"); return
        }
        let leader = try #require(await services[0].status.leader)
        let victim = try #require(keys.indices.first { keys[$0].nodeID != leader })
        #expect(await eventually("the victim applied the write") { await services[victim].state.vars["color"] != nil })
        await services[victim].stop()
        await mesh.setCut([keys[victim].nodeID])

        // One bit of one log entry flips on disk (written behind the checksum's back).
        do {
            let storage = try RaftStorage(path: "\(dir)/n\(victim)/raft.db")
            try storage.db.execute("UPDATE raft_log SET command = CAST(command AS BLOB) || x'00' WHERE idx = (SELECT MAX(idx) FROM raft_log)")
        }
        let reopened = try open(victim, keys[victim], mesh: mesh)
        let reset = try #require(reopened.reset)
        #expect(reset.reason.contains("checksum"))
        #expect(files(victim).contains { $0.hasPrefix("raft.db.damaged-") })
        #expect(RaftStorageRecovery.isAbstaining(dataDir: "\(dir)/n\(victim)"))
        let s = reopened.service
        #expect(await s.abstaining)
        #expect(await s.state.vars.isEmpty)
        // A second start before it refilled abstains again (the marker, not the empty store, decides).
        await mesh.attach(s, as: keys[victim].nodeID)
        services[victim] = s
        await s.start()
        await s.membershipChanged(allAlive)
        await mesh.setCut([])

        // The leader sees it abstaining, removes it from the voters, refills it, promotes it again.
        #expect(await eventually("the damaged node refilled and stopped abstaining") { await !s.abstaining })
        #expect(await eventually("the write is back on the damaged node") { await s.state.vars["color"]?.value == "blue" })
        let leaderService = try #require(services.indices.first { keys[$0].nodeID == leader }.map { services[$0] })
        #expect(await eventually("three voters again, the damaged node among them") {
            let v = await leaderService.status.voters
            return v.count == 3 && v.contains(keys[victim].nodeID)
        })
        for s in services { await s.stop() }
    }
}
