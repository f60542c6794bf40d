@testable import Consensus
import MeshCore
import MeshWire
import Testing

/// What the Raft decoder refuses before `RaftNode` sees it.
struct RaftCodecTests {
    /// Found while writing the libFuzzer target (`fuzz/corpus/raft/crash-append-after-largest-index`):
    /// an AppendEntries after log index 2^64-1 overflowed the sequence check and trapped,
    /// so one datagram from any holder of the cluster key stopped an agent.
    @Test func anAppendEntriesPastTheLargestIndexIsMalformedNotATrap() {
        var w = ByteWriter()
        w.write(UInt64(2)); w.write(UInt64.max); w.write(UInt64(2)); w.write(UInt64(0))
        w.write(UInt32(1)); w.write(UInt64(2)); w.write(UInt64(0)); w.write(UInt8(0)); w.write(UInt32(0))
        w.write(UInt64(0))
        #expect(throws: WireError.malformed("a term, index or offset of \(UInt64.max); at most \(RaftLimits.maxCounter)")) {
            try RaftMessage.decode(kind: .raftAppendEntries, body: w.bytes)
        }
    }

    /// Terms, indexes and offsets past `RaftLimits.maxCounter` are refused in every message,
    /// so the node never adds one to 2^64-1; up to the limit they round-trip.
    @Test func countersPastTheLimitAreRefusedUpToItTheyRoundTrip() throws {
        let atLimit = RaftMessage.requestVote(RequestVote(preVote: false, term: Term(RaftLimits.maxCounter),
                                                          lastLogIndex: LogIndex(RaftLimits.maxCounter), lastLogTerm: Term(1)))
        #expect(try RaftMessage.decode(kind: .raftRequestVote, body: atLimit.encoded) == atLimit)
        let past = RaftMessage.timeoutNow(Term(RaftLimits.maxCounter + 1))
        #expect(throws: WireError.self) { try RaftMessage.decode(kind: .raftTimeoutNow, body: past.encoded) }
        let snapshot = RaftMessage.snapshotResponse(SnapshotResponse(term: Term(1), index: LogIndex(1), nextOffset: .max, installed: false))
        #expect(throws: WireError.self) { try RaftMessage.decode(kind: .raftSnapshotResponse, body: snapshot.encoded) }
    }
}
