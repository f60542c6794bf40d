import Membership
import MeshCore

/// Encoded sizes of membership messages without encoding them.
///
/// Encoding every message only to count its bytes cost about a tenth of a 1,000-node run,
/// so the simulator adds up the fields of the layout in `Messages.swift` instead, caching
/// the size of each member's alive update per incarnation. The model is audited: every
/// `auditInterval`-th message is also encoded and a difference is reported as a violation
/// of `wire_size_model_exact`, and a test compares it on every message kind.
struct WireSize {
    /// One message in this many is also encoded, to check the model.
    static let auditInterval = 1024
    static let coordinateBytes = (Coordinate.dimensions + 3) * 8
    static let nodeIDBytes = NodeID.byteCount
    static let deadOrSuspectBytes = 1 + nodeIDBytes + 8 + nodeIDBytes

    private var cachedIncarnation: [UInt64]
    private var cachedSize: [Int32]
    private let ids: [NodeID]

    init(ids: [NodeID]) {
        self.ids = ids
        cachedIncarnation = [UInt64](repeating: .max, count: ids.count)
        cachedSize = [Int32](repeating: 0, count: ids.count)
    }

    /// The encoded body size of `message`.
    mutating func body(_ message: MembershipMessage) -> Int {
        switch message {
        case let .ping(p): 4 + Self.nodeIDBytes + coordinate(p.coordinate) + updates(p.updates)
        case let .pingRequest(p): 4 + Self.nodeIDBytes + addresses(p.targetAddresses) + 1 + updates(p.updates)
        case let .ack(a): 4 + coordinate(a.coordinate) + updates(a.updates)
        case let .nack(n): 4 + updates(n.updates)
        case let .gossip(g): updates(g.updates)
        case let .pushPull(p):
            p.states.reduce(1 + 1 + 4) { $0 + alive($1.alive) + 1 + coordinate($1.coordinate) }
        }
    }

    @inline(__always)
    private func coordinate(_ c: Coordinate?) -> Int { c == nil ? 1 : 1 + Self.coordinateBytes }

    private func addresses(_ list: [PeerAddress]) -> Int {
        list.reduce(4) { $0 + 1 + $1.ip.count + 2 }
    }

    private mutating func updates(_ list: [Update]) -> Int {
        var total = 4
        for u in list {
            switch u {
            case let .alive(a): total += 1 + alive(a)
            case .suspect, .dead: total += Self.deadOrSuspectBytes
            }
        }
        return total
    }

    private mutating func alive(_ a: AliveUpdate) -> Int {
        let n = Int(truncatingIfNeeded: a.id.w3)
        let known = n >= 0 && n < ids.count && ids[n] == a.id
        if known, cachedIncarnation[n] == a.incarnation.value { return Int(cachedSize[n]) }
        let size = Self.nodeIDBytes + 8 + 4 + a.name.utf8.count + addresses(a.addresses) + a.metadata.encodedSize
        if known {
            cachedIncarnation[n] = a.incarnation.value
            cachedSize[n] = Int32(size)
        }
        return size
    }
}
