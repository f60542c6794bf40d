import Consensus
import Foundation
import Logging
@testable import MeshAgent
import MeshCore
import MeshWire
import Testing

/// Applied commands are published into the event log by a separate task; when it falls
/// behind by `maxUnpublishedApplied`, new commands wait instead of the queue growing.
@Suite(.serialized) struct PublishBackpressureTests {
    let dir = NSTemporaryDirectory() + "meshd-backpressure-\(UUID().uuidString)"
    init() { try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }

    /// Lets the publisher through one entry per `release()`.
    /// The publisher waits on a continuation, not a polling loop.
    actor Gate {
        var tickets = 0
        var published: [LogIndex] = []
        var waiting: [CheckedContinuation<Void, Never>] = []
        func release(_ n: Int) {
            tickets += n
            while tickets > 0, !waiting.isEmpty { tickets -= 1; waiting.removeFirst().resume() }
        }
        func pass(_ index: LogIndex) async {
            if tickets > 0 { tickets -= 1 } else { await withCheckedContinuation { waiting.append($0) } }
            published.append(index)
        }
    }

    @Test func commandsWaitWhileThePublisherIsTooFarBehindAndGoOnWhenItCatchesUp() async throws {
        let mesh = LoopbackMesh()
        let k = SigningKeyPair(seed: [UInt8](repeating: 33, count: 32))!
        let s = try ConsensusService(id: k.nodeID, storagePath: "\(dir)/raft.db", bootstrap: true, settings: .lan,
                                     policy: VoterPolicy(), transport: LoopbackTransport(mesh: mesh, me: k.nodeID),
                                     now: clockNow, logger: Logger(label: "test"), maxUnpublishedApplied: 4)
        let gate = Gate()
        await s.setOnApplied { batch in for a in batch { await gate.pass(a.entry.index) } }
        await s.start()
        #expect(await eventually("the lone node leads") { await s.status.role == .leader })
        // The bootstrap configuration and the leader's no-op are applied and wait too.
        var done = 0
        while await s.unpublished < 4 {
            guard case .success = await s.submit(.setVar(key: "k\(done)", value: "v"), requester: "test") else {
                Issue.record("refused"); return
            }
            done += 1
        }
        // The publisher is 4 behind: the next command waits instead of committing.
        let waiting = Task { await s.submit(.setVar(key: "late", value: "v"), requester: "test") }
        // It is seen waiting for admission, and it has not committed.
        #expect(await eventually("the late command waits for the publisher") { await s.admitting == 1 })
        #expect(await s.state.vars["late"] == nil)
        #expect(await s.unpublished == 4)
        await gate.release(100)
        guard case .success = await waiting.value else { Issue.record("the waiting command failed"); return }
        #expect(await s.state.vars["late"]?.value == "v")
        #expect(await eventually("everything published in order") {
            let p = await gate.published
            return p.count == done + 3 && p == p.sorted()
        })
        await s.stop()
    }
}
