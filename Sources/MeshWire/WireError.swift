import MeshCore

/// Why a frame or a message body was refused. Every case is counted by `RejectReason`.
public enum WireError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Fewer bytes than the layout needs.
    case truncated(needed: Int, available: Int)
    /// More bytes than the named limit allows.
    case oversized(size: Int, limit: Int)
    /// An envelope version this build does not speak.
    case unknownVersion(UInt8)
    /// No key of the keyring opens the envelope: another cluster, or tampered bytes.
    case undecryptable
    /// The sender's signature does not verify.
    case badSignature
    /// A frame already seen, or older than the sender's replay window.
    case replayed(sender: NodeID, epoch: UInt64, seq: UInt64)
    /// A message kind this build does not know.
    case unknownKind(UInt8)
    /// Bytes that parse but do not make sense (a bad enum tag, invalid UTF-8, a bad length).
    case malformed(String)

    public var reason: RejectReason {
        switch self {
        case .truncated: .truncated
        case .oversized: .oversized
        case .unknownVersion: .unknownVersion
        case .undecryptable: .undecryptable
        case .badSignature: .badSignature
        case .replayed: .replayed
        case .unknownKind: .unknownKind
        case .malformed: .malformed
        }
    }

    public var description: String {
        switch self {
        case let .truncated(needed, available): "frame truncated: needed \(needed) bytes, had \(available)"
        case let .oversized(size, limit): "frame of \(size) bytes exceeds the limit of \(limit)"
        case let .unknownVersion(v): "unknown frame version \(v) (this build speaks \(SealedLayout.currentVersion))"
        case .undecryptable: "no cluster key in the keyring opens this frame (wrong cluster key or tampered)"
        case .badSignature: "the sender's signature does not verify"
        case let .replayed(sender, epoch, seq): "replayed frame from \(sender) (epoch \(epoch), seq \(seq))"
        case let .unknownKind(k): "unknown message kind \(k)"
        case let .malformed(why): "malformed message: \(why)"
        }
    }
}

/// The counted reasons a frame is rejected; the labels of `meshd_frames_rejected_total`.
public enum RejectReason: String, CaseIterable, Sendable, Hashable {
    case truncated, oversized, unknownVersion = "unknown_version", undecryptable
    case badSignature = "bad_signature", replayed, unknownKind = "unknown_kind", malformed
}

/// Counts of rejected frames by reason.
public struct RejectCounters: Sendable, Equatable {
    private var counts = [UInt64](repeating: 0, count: RejectReason.allCases.count)
    public init() {}

    public mutating func record(_ reason: RejectReason) {
        counts[RejectReason.allCases.firstIndex(of: reason)!] &+= 1
    }

    public subscript(reason: RejectReason) -> UInt64 {
        counts[RejectReason.allCases.firstIndex(of: reason)!]
    }

    public var total: UInt64 { counts.reduce(0, &+) }

    /// Adds another counter's counts, reason by reason.
    public mutating func add(_ other: RejectCounters) {
        for i in counts.indices { counts[i] &+= other.counts[i] }
    }
}
