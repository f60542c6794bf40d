import MeshCore
import MeshWire

/// Wire limits of Raft messages.
public enum RaftLimits {
    public static let maxEntriesPerMessage = 4096
    public static let maxCommandBytes = 1 << 20
    /// Voters in a configuration on the wire (a mesh keeps 3 or 5).
    public static let maxVoters = 64
    /// A snapshot chunk on the wire, and a whole snapshot being received.
    public static let maxSnapshotChunkBytes = 1 << 20
    public static let maxSnapshotBytes = 1 << 30
    /// The largest term, log index or snapshot offset a message may carry. No mesh comes
    /// near 2^62 of any; a larger one is forged or corrupt, and refused before `RaftNode`
    /// adds to it (an AppendEntries after index 2^64-1 trapped the decoder itself).
    public static let maxCounter: UInt64 = 1 << 62
}

extension ByteReader {
    /// A term, log index or offset of a Raft message: at most `RaftLimits.maxCounter`.
    mutating func readRaftCounter() throws(WireError) -> UInt64 {
        let v = try readUInt64()
        guard v <= RaftLimits.maxCounter else { throw .malformed("a term, index or offset of \(v); at most \(RaftLimits.maxCounter)") }
        return v
    }
    mutating func readTerm() throws(WireError) -> Term { Term(try readRaftCounter()) }
    mutating func readLogIndex() throws(WireError) -> LogIndex { LogIndex(try readRaftCounter()) }
}

extension RaftMessage {
    /// Every kind a Raft message travels as (the libFuzzer target picks one by index).
    public static let kinds: [MessageKind] = [.raftRequestVote, .raftVoteResponse, .raftAppendEntries, .raftAppendResponse,
                                              .raftTimeoutNow, .raftInstallSnapshot, .raftSnapshotResponse]

    public var kind: MessageKind {
        switch self {
        case .requestVote: .raftRequestVote
        case .voteResponse: .raftVoteResponse
        case .appendEntries: .raftAppendEntries
        case .appendResponse: .raftAppendResponse
        case .timeoutNow: .raftTimeoutNow
        case .installSnapshot: .raftInstallSnapshot
        case .snapshotResponse: .raftSnapshotResponse
        }
    }

    public var encoded: [UInt8] {
        var w = ByteWriter()
        switch self {
        case let .requestVote(m):
            w.write(m.preVote); w.write(m.term.value); w.write(m.lastLogIndex.value); w.write(m.lastLogTerm.value)
            w.write(m.transfer)
        case let .voteResponse(m):
            w.write(m.preVote); w.write(m.term.value); w.write(m.granted)
        case let .appendEntries(m):
            w.write(m.term.value); w.write(m.prevLogIndex.value); w.write(m.prevLogTerm.value); w.write(m.leaderCommit.value)
            w.writeList(m.entries) { w, e in w.write(e.term.value); w.write(e.index.value); w.write(e.kind.rawValue); w.writeBlob(e.command) }
            w.write(m.readRound)
        case let .appendResponse(m):
            w.write(m.term.value); w.write(m.success); w.write(m.matchIndex.value); w.write(m.hintIndex.value)
            w.write(m.abstaining); w.write(m.readRound)
        case let .timeoutNow(term):
            w.write(term.value)
        case let .installSnapshot(m):
            w.write(m.term.value); w.write(m.index.value); w.write(m.lastTerm.value); w.writeBlob(m.configuration.encoded)
            w.write(m.offset); w.writeBlob(m.data); w.write(m.done)
        case let .snapshotResponse(m):
            w.write(m.term.value); w.write(m.index.value); w.write(m.nextOffset); w.write(m.installed)
        }
        return w.bytes
    }

    public static func decode(kind: MessageKind, body: [UInt8]) throws(WireError) -> RaftMessage {
        var r = ByteReader(body)
        let m: RaftMessage
        switch kind {
        case .raftRequestVote:
            m = .requestVote(RequestVote(preVote: try r.readBool(), term: try r.readTerm(),
                                         lastLogIndex: try r.readLogIndex(), lastLogTerm: try r.readTerm(),
                                         transfer: try r.readBool()))
        case .raftVoteResponse:
            m = .voteResponse(VoteResponse(preVote: try r.readBool(), term: try r.readTerm(), granted: try r.readBool()))
        case .raftAppendEntries:
            let term = try r.readTerm(), prevIndex = try r.readLogIndex()
            let prevTerm = try r.readTerm(), commit = try r.readLogIndex()
            let entries = try r.readList(limit: RaftLimits.maxEntriesPerMessage, minElementBytes: 20) { (r: inout ByteReader) throws(WireError) in
                let term = try r.readTerm(), index = try r.readLogIndex()
                let rawKind = try r.readUInt8()
                guard let kind = LogEntryKind(rawValue: rawKind) else { throw .malformed("log entry kind \(rawKind)") }
                return LogEntry(term: term, index: index, kind: kind, command: try r.readBlob(limit: RaftLimits.maxCommandBytes))
            }
            for (i, e) in entries.enumerated() where e.index.value != prevIndex.value + UInt64(i) + 1 {
                throw .malformed("entry \(e.index) out of sequence after \(prevIndex)")
            }
            m = .appendEntries(AppendEntries(term: term, prevLogIndex: prevIndex, prevLogTerm: prevTerm, entries: entries, leaderCommit: commit,
                                             readRound: try r.readUInt64()))
        case .raftAppendResponse:
            m = .appendResponse(AppendResponse(term: try r.readTerm(), success: try r.readBool(),
                                               matchIndex: try r.readLogIndex(), hintIndex: try r.readLogIndex(),
                                               abstaining: try r.readBool(), readRound: try r.readUInt64()))
        case .raftTimeoutNow:
            m = .timeoutNow(try r.readTerm())
        case .raftInstallSnapshot:
            let term = try r.readTerm(), index = try r.readLogIndex(), lastTerm = try r.readTerm()
            let configuration = try RaftConfiguration.decode(try r.readBlob(limit: 64 * 1024))
            m = .installSnapshot(InstallSnapshot(term: term, index: index, lastTerm: lastTerm, configuration: configuration,
                                                 offset: try r.readRaftCounter(), data: try r.readBlob(limit: RaftLimits.maxSnapshotChunkBytes),
                                                 done: try r.readBool()))
        case .raftSnapshotResponse:
            m = .snapshotResponse(SnapshotResponse(term: try r.readTerm(), index: try r.readLogIndex(),
                                                   nextOffset: try r.readRaftCounter(), installed: try r.readBool()))
        default:
            throw .unknownKind(kind.rawValue)
        }
        try r.expectEnd()
        return m
    }
}
