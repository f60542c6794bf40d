import Consensus
import Foundation
import Logging
@testable import MeshAgent
import MeshCore
import MeshWire
import Synchronization
import Testing
@testable import Storage

/// A save that would only move the commit index leaves it out until the stored one is
/// `RaftShell.defaultCommitStoreInterval` old; a tick then writes it, and so does `stop`,
/// which closes the file.
@Suite(.serialized) struct CommitStoreTests {
    let dir = NSTemporaryDirectory() + "meshd-commitstore-\(UUID().uuidString)"
    init() { try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }

    /// Time that moves only when the test says.
    final class ManualClock: Sendable {
        let time = Mutex(MeshTime(nanoseconds: 1_000_000_000))
        var now: MeshTime { time.withLock { $0 } }
        func advance(_ d: Duration) { time.withLock { $0 = $0 + d } }
    }

    @Test func theCommitIndexIsStoredOnceItIsDueAndAtStop() async throws {
        let clock = ManualClock()
        let k = SigningKeyPair(seed: [UInt8](repeating: 41, count: 32))!
        let s = try ConsensusService(id: k.nodeID, storagePath: "\(dir)/raft.db", bootstrap: true, settings: .lan,
                                     policy: VoterPolicy(), transport: LoopbackTransport(mesh: LoopbackMesh(), me: k.nodeID),
                                     now: { clock.now }, logger: Logger(label: "test"))
        await s.start()
        for _ in 0 ..< 10 where await s.status.role != .leader {
            clock.advance(.seconds(1))
            await s.timerFired()
        }
        #expect(await s.status.role == .leader)
        // An election stores its term, and the commit index with it: from here on only the
        // commit index moves.
        var last = LogIndex.zero
        for i in 0 ..< 3 {
            guard case let .success(index) = await s.submit(.setVar(key: "k\(i)", value: "v"), requester: "test") else {
                Issue.record("write \(i) refused"); return
            }
            last = index
        }
        #expect(await s.node.commitIndex == last)
        let early = try await s.storedHardState()
        #expect(early.term == (await s.node.term))
        #expect(early.commit < last, "stored \(early.commit) within the interval; committed \(last)")

        // Not yet due: a tick leaves it.
        clock.advance(RaftShell.defaultCommitStoreInterval / 2)
        await s.timerFired()
        #expect(try await s.storedHardState().commit == early.commit)
        // Due: the next tick writes it.
        clock.advance(RaftShell.defaultCommitStoreInterval)
        await s.timerFired()
        #expect(try await s.storedHardState().commit == last)

        // One more write, then stop: stored at once.
        guard case let .success(final) = await s.submit(.setVar(key: "last", value: "v"), requester: "test") else {
            Issue.record("the last write was refused"); return
        }
        #expect(try await s.storedHardState().commit < final)
        await s.stop()
        // Stopped, the service has closed its file: another opens it and reads the commit.
        #expect(try RaftStorage(path: "\(dir)/raft.db").loadWithSnapshot().0.commit == final)
    }
}

extension ConsensusService {
    /// The hard state as storage holds it now.
    func storedHardState() throws -> HardState { try storage.loadWithSnapshot().0 }
}
