@testable import Consensus
import EventLog
import Foundation
import Logging
@testable import MeshAgent
import MeshCore
import MeshWire
import Testing

/// A verified frame whose body the event log or Raft cannot decode is dropped and counted
/// by reason, as a malformed membership message is (it used to be dropped uncounted), and
/// the service goes on with the next frame.
@Suite(.serialized) struct ServiceDecodeRejectionTests {
    let dir = NSTemporaryDirectory() + "meshd-undecodable-\(UUID().uuidString)"
    let key = SigningKeyPair(seed: [UInt8](repeating: 81, count: 32))!
    let sender = SigningKeyPair(seed: [UInt8](repeating: 82, count: 32))!.nodeID
    init() { try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }

    func frame(_ kind: MessageKind, _ body: [UInt8]) -> Frame { Frame(sender: sender, epoch: 1, seq: 1, kind: kind, body: body) }

    @Test func raftBodiesThatDoNotDecodeAreCountedByReason() async throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let s = try ConsensusService(id: key.nodeID, storagePath: "\(dir)/raft.db", bootstrap: true, settings: .lan,
                                     policy: VoterPolicy(), transport: LoopbackTransport(mesh: LoopbackMesh(), me: key.nodeID),
                                     now: clockNow, logger: Logger(label: "test"))
        await s.handle(frame(.raftAppendEntries, [0xFF, 0xFF]))
        await s.handle(frame(.raftTimeoutNow, RaftMessage.timeoutNow(Term(.max)).encoded))
        await s.handle(frame(.raftVoteResponse, RaftMessage.voteResponse(VoteResponse(preVote: false, term: Term(1), granted: false)).encoded + [0]))
        let counted = s.undecodable.snapshot
        #expect(counted[.truncated] == 1 && counted[.malformed] == 2, "\(counted)")
    }

    @Test func eventLogBodiesThatDoNotDecodeAreCountedByReason() async throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let log = try EventLogService(storePath: "\(dir)/events.db", identity: key, settings: .local,
                                      transport: LoopbackTransport(mesh: LoopbackMesh(), me: key.nodeID),
                                      now: clockNow, wallMilliseconds: wallNow, logger: Logger(label: "test"))
        await log.handle(frame(.eventPush, [0, 0, 0, 1]))
        await log.handle(frame(.eventDigest, [7]))
        await log.handle(frame(.eventPrune, [0xFF, 0xFF, 0xFF, 0xFF]))
        let counted = log.undecodable.snapshot
        #expect(counted[.truncated] == 1 && counted[.malformed] == 1 && counted[.oversized] == 1, "\(counted)")
    }
}
