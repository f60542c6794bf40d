import MeshCore
import MeshWire

/// Wire limits of Raft messages.
public enum RaftLimits {
    public static let maxEntriesPerMessage = 4096
    public static let maxCommandBytes = 1 << 20
    /// A snapshot chunk on the wire, and a whole snapshot being received.
    public static let maxSnapshotChunkBytes = 1 << 20
    public static let maxSnapshotBytes = 1 << 30
}

extension RaftMessage {
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
            m = .requestVote(RequestVote(preVote: try r.readBool(), term: Term(try r.readUInt64()),
                                         lastLogIndex: LogIndex(try r.readUInt64()), lastLogTerm: Term(try r.readUInt64()),
                                         transfer: try r.readBool()))
        case .raftVoteResponse:
            m = .voteResponse(VoteResponse(preVote: try r.readBool(), term: Term(try r.readUInt64()), granted: try r.readBool()))
        case .raftAppendEntries:
            let term = Term(try r.readUInt64()), prevIndex = LogIndex(try r.readUInt64())
            let prevTerm = Term(try r.readUInt64()), commit = LogIndex(try r.readUInt64())
            let entries = try r.readList(limit: RaftLimits.maxEntriesPerMessage, minElementBytes: 20) { (r: inout ByteReader) throws(WireError) in
                let term = Term(try r.readUInt64()), index = LogIndex(try r.readUInt64())
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
            m = .appendResponse(AppendResponse(term: Term(try r.readUInt64()), success: try r.readBool(),
                                               matchIndex: LogIndex(try r.readUInt64()), hintIndex: LogIndex(try r.readUInt64()),
                                               abstaining: try r.readBool(), readRound: try r.readUInt64()))
        case .raftTimeoutNow:
            m = .timeoutNow(Term(try r.readUInt64()))
        case .raftInstallSnapshot:
            let term = Term(try r.readUInt64()), index = LogIndex(try r.readUInt64()), lastTerm = Term(try r.readUInt64())
            let configuration = try RaftConfiguration.decode(try r.readBlob(limit: 64 * 1024))
            m = .installSnapshot(InstallSnapshot(term: term, index: index, lastTerm: lastTerm, configuration: configuration,
                                                 offset: try r.readUInt64(), data: try r.readBlob(limit: RaftLimits.maxSnapshotChunkBytes),
                                                 done: try r.readBool()))
        case .raftSnapshotResponse:
            m = .snapshotResponse(SnapshotResponse(term: Term(try r.readUInt64()), index: LogIndex(try r.readUInt64()),
                                                   nextOffset: try r.readUInt64(), installed: try r.readBool()))
        default:
            throw .unknownKind(kind.rawValue)
        }
        try r.expectEnd()
        return m
    }
}
