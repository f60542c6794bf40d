import MeshCore
import MeshWire

/// A position in one origin's gap-free sequence of events (1, 2, 3, ...).
public struct EventSeq: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var value: UInt64
    public init(_ value: UInt64) { self.value = value }
    public static let zero = EventSeq(0)
    public static func < (a: EventSeq, b: EventSeq) -> Bool { a.value < b.value }
    public var next: EventSeq { EventSeq(value + 1) }
    public var description: String { "\(value)" }
}

/// One immutable, signed fact in the mesh's history: who said it (`origin`), its place in
/// the origin's sequence, when (a hybrid logical clock), what (`kind`, a dotted name such
/// as `member.dead`), and details (`attributes`). The origin's Ed25519 signature covers
/// all of it, so a relay cannot alter an event.
///
/// The fields live in one immutable box (`Storage`): an event is copied into every queue,
/// message and batch that carries it, and a copy is then one reference count instead of
/// an 80-byte struct with three (the simulator's flood copies each event ~50 times per node).
public struct Event: Sendable, Equatable, Hashable {
    public var origin: NodeID { storage.origin }
    public var seq: EventSeq { storage.seq }
    public var time: HybridTimestamp { storage.time }
    public var kind: String { storage.kind }
    public var attributes: [String: String] { storage.attributes }
    public var signature: [UInt8] { storage.signature }
    /// The encoded size; what retention and batching count. Added up once from the layout
    /// of `encode(into:)` (id, seq, time, length-prefixed kind, counted map of
    /// length-prefixed strings, signature) without encoding: replication asks for it for
    /// every event it sends, and a test checks it against the encoder.
    public var encodedSize: Int { storage.encodedSize }

    let storage: Storage

    final class Storage: Sendable {
        let origin: NodeID
        let seq: EventSeq
        let time: HybridTimestamp
        let kind: String
        let attributes: [String: String]
        let signature: [UInt8]
        let encodedSize: Int

        init(origin: NodeID, seq: EventSeq, time: HybridTimestamp, kind: String, attributes: [String: String], signature: [UInt8]) {
            self.origin = origin; self.seq = seq; self.time = time; self.kind = kind
            self.attributes = attributes; self.signature = signature
            var size = NodeID.byteCount + 8 + 8 + 4 + kind.utf8.count + 4 + signature.count
            for (k, v) in attributes { size += 8 + k.utf8.count + v.utf8.count }
            encodedSize = size
        }
    }

    /// Makes and signs an event of this node.
    public init(signing key: SigningKeyPair, seq: EventSeq, time: HybridTimestamp, kind: String,
                attributes: [String: String]) throws(EventError) {
        try Event.validate(kind: kind, attributes: attributes)
        let origin = key.nodeID
        let signature = key.sign(Event.signedBytes(origin: origin, seq: seq, time: time, kind: kind, attributes: attributes))
        storage = Storage(origin: origin, seq: seq, time: time, kind: kind, attributes: attributes, signature: signature)
    }

    /// An event as received or loaded; `verify()` before trusting it.
    public init(origin: NodeID, seq: EventSeq, time: HybridTimestamp, kind: String,
                attributes: [String: String], signature: [UInt8]) {
        storage = Storage(origin: origin, seq: seq, time: time, kind: kind, attributes: attributes, signature: signature)
    }

    public static func == (a: Event, b: Event) -> Bool {
        if a.storage === b.storage { return true }
        return a.origin == b.origin && a.seq == b.seq && a.time == b.time && a.kind == b.kind
            && a.attributes == b.attributes && a.signature == b.signature
    }

    public func hash(into h: inout Hasher) {
        h.combine(origin); h.combine(seq); h.combine(time); h.combine(kind); h.combine(attributes); h.combine(signature)
    }

    /// Checks limits, shape and the origin's signature.
    public func verify() throws(EventError) {
        try Event.validate(kind: kind, attributes: attributes)
        guard seq.value > 0 else { throw .invalid("sequence numbers start at 1") }
        let message = Event.signedBytes(origin: origin, seq: seq, time: time, kind: kind, attributes: attributes)
        guard SigningKeyPair.verify(signature: signature, message: message, publicKey: origin.bytes) else {
            throw .badSignature(origin: origin, seq: seq)
        }
    }

    /// The canonical bytes the signature covers (attributes in key order).
    static func signedBytes(origin: NodeID, seq: EventSeq, time: HybridTimestamp, kind: String,
                            attributes: [String: String]) -> [UInt8] {
        var w = ByteWriter(capacity: 128)
        w.writeRaw(Array("meshd-event-v1".utf8))
        w.write(origin); w.write(seq.value); w.write(time.raw); w.write(kind); w.write(attributes)
        return w.bytes
    }

    public func encode(into w: inout ByteWriter) {
        w.write(origin); w.write(seq.value); w.write(time.raw); w.write(kind); w.write(attributes)
        w.writeRaw(signature)
    }

    public init(decoding r: inout ByteReader) throws(WireError) {
        let origin = try r.readNodeID()
        let seq = EventSeq(try r.readUInt64())
        let time = HybridTimestamp(raw: try r.readUInt64())
        let kind = try r.readString(limit: EventLimits.maxKindBytes)
        let attributes = try r.readStringMap(limit: EventLimits.maxAttributes)
        let signature = Array(try r.readRaw(64))
        self.init(origin: origin, seq: seq, time: time, kind: kind, attributes: attributes, signature: signature)
    }

    static func validate(kind: String, attributes: [String: String]) throws(EventError) {
        guard !kind.isEmpty, kind.utf8.count <= EventLimits.maxKindBytes,
              kind.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2e || $0 == 0x5f || $0 == 0x2d }),
              kind.first != ".", kind.last != "." else {
            throw .invalid("kind \"\(kind)\": 1-\(EventLimits.maxKindBytes) lowercase letters, digits, '_', '-', dot-separated (e.g. user.deploy)")
        }
        guard attributes.count <= EventLimits.maxAttributes else {
            throw .tooLarge("\(attributes.count) attributes; at most \(EventLimits.maxAttributes)")
        }
        let bytes = attributes.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count }
        guard bytes <= EventLimits.maxAttributeBytes else {
            throw .tooLarge("attributes of \(bytes) bytes; at most \(EventLimits.maxAttributeBytes)")
        }
    }
}

/// Limits on one event, named in one place.
public enum EventLimits {
    public static let maxKindBytes = 128
    public static let maxAttributes = 32
    /// Keys and values together; keeps every event under one datagram.
    public static let maxAttributeBytes = 900
}

/// Why an event was refused.
public enum EventError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalid(String)
    case tooLarge(String)
    case badSignature(origin: NodeID, seq: EventSeq)
    case storage(String)
    /// The disk has no room for the write (SQLite's `SQLITE_FULL`, or `ENOSPC`): this
    /// machine's condition, not the request's; the same write succeeds once space returns.
    case storageFull(String)
    /// The disk or file system failed a read, write or sync (`SQLITE_IOERR`).
    case storageIOError(String)
    case notReady(String)

    public var description: String {
        switch self {
        case let .invalid(why): "invalid event: \(why)"
        case let .tooLarge(why): "event too large: \(why)"
        case let .badSignature(origin, seq): "event \(origin)/\(seq) has a bad signature (altered or forged): dropped"
        case let .storage(why): "event store: \(why)"
        case let .storageFull(why):
            "event store: the disk is full (\(why)); free space in the data directory: writes succeed again once there is room"
        case let .storageIOError(why): "event store: I/O error (\(why)); check the disk and the kernel log"
        case let .notReady(why): "event log not ready: \(why)"
        }
    }
}
