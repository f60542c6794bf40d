import MeshCore
import MeshWire

/// One origin's marks in a digest.
public struct DigestEntry: Sendable, Equatable {
    public var origin: NodeID
    public var marks: OriginMarks
}

/// The event log's messages.
public enum ReplicationMessage: Sendable, Equatable {
    /// New events, pushed eagerly (a datagram).
    case push([Event])
    /// The sender's per-origin marks (scuttlebutt digest); a request asks for a digest back.
    case digest([DigestEntry], isReply: Bool)
    /// Events the receiver lacks, in per-origin order; `more` when a limit cut it short.
    case batch([Event], more: Bool)

    public var kind: MessageKind {
        switch self {
        case .push: .eventPush
        case .digest: .eventDigest
        case .batch: .eventBatch
        }
    }

    public var encoded: [UInt8] {
        var w = ByteWriter()
        switch self {
        case let .push(events): w.writeList(events) { w, e in e.encode(into: &w) }
        case let .digest(entries, isReply):
            w.write(isReply)
            w.writeList(entries) { w, d in w.write(d.origin); w.write(d.marks.low.value); w.write(d.marks.high.value) }
        case let .batch(events, more):
            w.write(more)
            w.writeList(events) { w, e in e.encode(into: &w) }
        }
        return w.bytes
    }

    public static func decode(kind: MessageKind, body: [UInt8]) throws(WireError) -> ReplicationMessage {
        var r = ByteReader(body)
        let decodeEvent = { (r: inout ByteReader) throws(WireError) -> Event in try Event(decoding: &r) }
        let m: ReplicationMessage
        switch kind {
        case .eventPush:
            m = .push(try r.readList(limit: ReplicationLimits.maxBatchEvents, minElementBytes: 120, decodeEvent))
        case .eventDigest:
            let isReply = try r.readBool()
            m = .digest(try r.readList(limit: ReplicationLimits.maxDigestEntries, minElementBytes: 48) { (r: inout ByteReader) throws(WireError) in
                DigestEntry(origin: try r.readNodeID(),
                            marks: OriginMarks(low: EventSeq(try r.readUInt64()), high: EventSeq(try r.readUInt64())))
            }, isReply: isReply)
        case .eventBatch:
            let more = try r.readBool()
            m = .batch(try r.readList(limit: ReplicationLimits.maxBatchEvents, minElementBytes: 120, decodeEvent), more: more)
        default:
            throw .unknownKind(kind.rawValue)
        }
        try r.expectEnd()
        return m
    }
}

/// Wire limits of replication messages.
public enum ReplicationLimits {
    public static let maxBatchEvents = 4096
    public static let maxDigestEntries = 100_000
}
