import Membership
import MeshCore

/// Where a simulated node is in its life.
public enum NodeState: UInt8, Sendable, CustomStringConvertible {
    /// Its slot exists but it has not started (a later bootstrap, a tracer, a `join`).
    case notStarted
    /// Running (possibly paused: see `SimNode.pausedUntil`).
    case running
    /// Called `leave`; still running until the core reports `.leftMesh`.
    case leaving
    /// Finished leaving and stopped.
    case left
    /// Crashed: processes nothing, messages to it are dropped.
    case crashed

    public var description: String {
        switch self {
        case .notStarted: "not-started"
        case .running: "running"
        case .leaving: "leaving"
        case .left: "left"
        case .crashed: "crashed"
        }
    }

    /// Takes part in the mesh (receives, processes, observes).
    var isUp: Bool { self == .running || self == .leaving }
}

/// One simulated node: its membership core and what the simulator knows about it.
struct SimNode {
    var core: Membership?

    /// The core's next wake-up in nanoseconds. Mutating on purpose: called as
    /// `nodes[i].coreWakeup()` it reaches the core in place, where a read such as
    /// `nodes[i].core?.nextWakeup` copied the whole core (a dozen retains, 9 % of a
    /// steady run).
    mutating func coreWakeup() -> Int64? { core?.nextWakeup.nanoseconds }
    var state: NodeState = .notStarted
    /// Paused (receives and processes nothing) while `now < pausedUntil`.
    var pausedUntil: Int64 = 0
    /// Delivery slots that arrived while paused, in arrival order.
    var backlog: [Int32] = []
    var backlogBytes = 0
    /// Sequence number of the one valid pending wake-up event (`.max`: none).
    var wakeSeq: UInt64 = .max
    var wakeAt: Int64 = .min
    /// A `dead` verdict about this node before this time is excused (it crashed, restarted
    /// or was paused for long recently): not a false positive.
    var excusedUntil: Int64 = 0
    /// How many times it started (1 after the first start).
    var lives = 0

    @inline(__always)
    func isPaused(at now: Int64) -> Bool { pausedUntil > now }
}

/// A message in flight, kept in a slab so heap entries stay small.
struct Delivery {
    /// nil once consumed (releases the message's buffers).
    var message: MembershipMessage?
    var from: Int32
    var to: Int32
    var transport: Transport
    var bytes: Int32

    enum Transport: UInt8 {
        case datagram, streamRequest, streamReply
    }

    static let empty = Delivery(message: nil, from: -1, to: -1, transport: .datagram, bytes: 0)
}

/// Synthetic addresses: node `i` is `10.a.b.c:7600` with `a.b.c` = `i + 1` (and
/// `11.a.b.c:7600` for a second address), so mapping an address back to its node is
/// arithmetic, not a hash lookup.
enum SimAddressing {
    static let port: UInt16 = 7600
    static let primaryNet: UInt8 = 10
    static let secondaryNet: UInt8 = 11
    /// 24 bits of host number.
    static let maxNodes = (1 << 24) - 2

    static func address(node: Int, secondary: Bool = false) -> PeerAddress {
        let n = node + 1
        return PeerAddress(secondary ? secondaryNet : primaryNet, UInt8(truncatingIfNeeded: n >> 16),
                           UInt8(truncatingIfNeeded: n >> 8), UInt8(truncatingIfNeeded: n), port: port)
    }

    @inline(__always)
    static func node(of address: PeerAddress, count: Int) -> Int? {
        let ip = address.ip
        guard ip.count == 4, address.port == port, ip[0] == primaryNet || ip[0] == secondaryNet else { return nil }
        let n = (Int(ip[1]) << 16 | Int(ip[2]) << 8 | Int(ip[3])) - 1
        return n >= 0 && n < count ? n : nil
    }

    /// A node id that looks random but carries the node index in its last word.
    static func id(node: Int) -> NodeID {
        var x = UInt64(node) &+ 0x5EED_0000
        func mix(_ x: inout UInt64) -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        return NodeID(w0: mix(&x), w1: mix(&x), w2: mix(&x), w3: UInt64(node))
    }

    @inline(__always)
    static func node(of id: NodeID, count: Int) -> Int? {
        let n = Int(truncatingIfNeeded: id.w3)
        return n >= 0 && n < count ? n : nil
    }
}
