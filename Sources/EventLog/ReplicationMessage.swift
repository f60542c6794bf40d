import MeshCore
import MeshWire

/// One origin's marks in a digest.
public struct DigestEntry: Sendable, Equatable {
    public var origin: NodeID
    public var marks: OriginMarks
}

/// An event named compactly in lazy announcements and grafts: the first 8 bytes of the
/// origin's id (`NodeID.w0`, its tag) and the seq. A receiver resolves the tag against the
/// origins it holds; a tag it cannot resolve (an origin it has never seen, or two held
/// origins sharing a tag — 2⁻⁶⁴ by chance, and costly to forge) is simply an event it
/// lacks, fetched by GRAFT from the announcer, who resolves the tag against its own.
public struct EventID: Hashable, Sendable {
    public var tag: UInt32
    public var seq: UInt64
    public init(tag: UInt32, seq: UInt64) { self.tag = tag; self.seq = seq }
    public init(_ e: Event) { tag = Self.tag(of: e.origin); seq = e.seq.value }
    /// An origin's short name in announcements, grafts and prunes: the first 4 bytes of its
    /// key. Two held origins that share one are both left to anti-entropy (about 1 in 10^4
    /// meshes of 1,000 nodes has such a pair).
    public static func tag(of origin: NodeID) -> UInt32 { UInt32(truncatingIfNeeded: origin.w0 >> 32) }
    /// Encoded bytes of one id: the tag, then the seq as a varint.
    public var encodedSize: Int { 4 + ByteWriter.varintSize(seq) }
    /// Fewest encoded bytes of one id.
    public static let minEncodedBytes = 5
}

/// One origin's high-water mark in an incremental digest.
public struct DeltaEntry: Sendable, Equatable {
    public var origin: NodeID
    public var high: EventSeq
    public init(origin: NodeID, high: EventSeq) { self.origin = origin; self.high = high }
    /// Encoded bytes of one entry.
    public static let encodedBytes = NodeID.byteCount + 8
}

/// The event log's messages.
public enum ReplicationMessage: Sendable, Equatable {
    /// New events, pushed eagerly (a datagram).
    case push([Event])
    /// The sender's per-origin marks (scuttlebutt digest); a request asks for a digest back.
    case digest([DigestEntry], isReply: Bool)
    /// Events the receiver lacks, in per-origin order; `more` when a limit cut it short.
    case batch([Event], more: Bool)
    /// Lazy announcement of events the sender holds (Plumtree IHAVE), sent to peers off
    /// the sender's eager tree.
    case ihave([EventID])
    /// Asks the receiver for these announced events and makes the link eager (GRAFT). With
    /// no ids: the sender picked the receiver as one of its links, which then carries every
    /// origin both ways (a receiver that predates this only makes the link eager).
    case graft([EventID])
    /// The receiver's pushes of these origins (by tag) reached the sender as duplicates:
    /// the link becomes lazy for them (PRUNE; per origin, so each origin's tree is its own).
    case prune([UInt32])
    /// An incremental digest: the sender's high marks of only the origins it believes the
    /// receiver does not know it holds (changed since their last exchange, or behind a
    /// gap). `isReply` as for `digest`.
    case delta([DeltaEntry], isReply: Bool)

    /// Every kind a replication message travels as (the libFuzzer target picks one by index).
    public static let kinds: [MessageKind] = [.eventPush, .eventDigest, .eventBatch, .eventIHave, .eventGraft, .eventPrune, .eventDigestDelta]

    public var kind: MessageKind {
        switch self {
        case .push: .eventPush
        case .digest: .eventDigest
        case .batch: .eventBatch
        case .ihave: .eventIHave
        case .graft: .eventGraft
        case .prune: .eventPrune
        case .delta: .eventDigestDelta
        }
    }

    /// The encoded body size, added up from the layout of `encoded` without encoding (the
    /// simulator asks for it for every message).
    public var encodedSize: Int {
        switch self {
        case let .push(events): events.reduce(4) { $0 + $1.encodedSize }
        case let .batch(events, _): events.reduce(1 + 4) { $0 + $1.encodedSize }
        case let .digest(entries, _): 1 + 4 + entries.count * (NodeID.byteCount + 16)
        case let .ihave(ids), let .graft(ids): ids.reduce(4) { $0 + $1.encodedSize }
        case let .prune(tags): 4 + tags.count * 4
        case let .delta(entries, _): 1 + 4 + entries.count * DeltaEntry.encodedBytes
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
        case let .ihave(ids), let .graft(ids):
            w.writeList(ids) { w, id in w.write(id.tag); w.writeVarint(id.seq) }
        case let .prune(tags): w.writeList(tags) { w, t in w.write(t) }
        case let .delta(entries, isReply):
            w.write(isReply)
            w.writeList(entries) { w, d in w.write(d.origin); w.write(d.high.value) }
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
        case .eventIHave, .eventGraft:
            let ids = try r.readList(limit: ReplicationLimits.maxAnnouncedIDs, minElementBytes: EventID.minEncodedBytes) { (r: inout ByteReader) throws(WireError) in
                EventID(tag: try r.readUInt32(), seq: try r.readVarint())
            }
            m = kind == .eventIHave ? .ihave(ids) : .graft(ids)
        case .eventPrune:
            m = .prune(try r.readList(limit: ReplicationLimits.maxAnnouncedIDs, minElementBytes: 4) { (r: inout ByteReader) throws(WireError) in
                try r.readUInt32()
            })
        case .eventDigestDelta:
            let isReply = try r.readBool()
            m = .delta(try r.readList(limit: ReplicationLimits.maxDigestEntries, minElementBytes: DeltaEntry.encodedBytes) { (r: inout ByteReader) throws(WireError) in
                DeltaEntry(origin: try r.readNodeID(), high: EventSeq(try r.readUInt64()))
            }, isReply: isReply)
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
    /// Ids in one IHAVE or GRAFT (a datagram holds about 76 of them; a stream frame more).
    public static let maxAnnouncedIDs = 8192
}
