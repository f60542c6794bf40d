/// A hybrid logical clock timestamp (Kulkarni et al., "Logical Physical Clocks", 2014):
/// 48 bits of wall-clock milliseconds and 16 bits of logical counter, ordered as one
/// 64-bit number. Close to wall time, yet never goes backwards and respects causality.
public struct HybridTimestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let raw: UInt64

    public init(raw: UInt64) { self.raw = raw }
    public init(milliseconds: UInt64, logical: UInt16) { raw = milliseconds << 16 | UInt64(logical) }

    public var milliseconds: UInt64 { raw >> 16 }
    public var logical: UInt16 { UInt16(truncatingIfNeeded: raw) }

    public static func < (a: HybridTimestamp, b: HybridTimestamp) -> Bool { a.raw < b.raw }
    public var description: String { "\(milliseconds).\(logical)" }
}

/// The clock itself: fed the wall time by its owner (a pure value, no clock inside).
public struct HybridClock: Sendable {
    public private(set) var last = HybridTimestamp(raw: 0) {
        // Events of one node are ordered by their timestamps: the clock never goes back.
        didSet { precondition(last >= oldValue, "hybrid clock went back from \(oldValue.raw) to \(last.raw)") }
    }

    public init() {}

    /// A timestamp for a local event at wall time `wallMilliseconds`.
    public mutating func tick(wallMilliseconds: UInt64) -> HybridTimestamp {
        let wall = HybridTimestamp(milliseconds: wallMilliseconds, logical: 0)
        last = wall > last ? wall : HybridTimestamp(raw: last.raw + 1)
        return last
    }

    /// Merges a timestamp seen on a remote event, so later local events order after it.
    public mutating func observe(_ remote: HybridTimestamp, wallMilliseconds: UInt64) {
        let wall = HybridTimestamp(milliseconds: wallMilliseconds, logical: 0)
        last = max(last, remote, wall)
    }
}
