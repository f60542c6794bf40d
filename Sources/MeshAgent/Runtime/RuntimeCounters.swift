import Membership
import MeshWire

/// What the runtime counts itself (the core counts its protocol events in
/// `MembershipMetrics`); exposed on `/metrics`.
struct RuntimeCounters: Sendable {
    var datagramsIn: UInt64 = 0
    var datagramsOut: UInt64 = 0
    var bytesInDatagram: UInt64 = 0
    var bytesOutDatagram: UInt64 = 0
    var bytesInStream: UInt64 = 0
    var bytesOutStream: UInt64 = 0
    /// Datagrams dropped before opening because the inbound queue was full.
    var datagramsDropped: UInt64 = 0
    /// Frames that opened but whose body did not decode, by reason.
    var decodeRejected = RejectCounters()
    /// Frames refused because they are of a kind that does not belong on their channel.
    var misroutedFrames: UInt64 = 0
    /// Frames that opened (sealed and signed right) from a banned node, refused.
    var bannedFrames: UInt64 = 0
    var exchangesOK: UInt64 = 0
    var exchangesFailed: UInt64 = 0
    var exchangesSkipped: UInt64 = 0
    var changes: [MemberChange.Kind: UInt64] = [:]
}
