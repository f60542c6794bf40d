import MeshCore
import MeshWire

/// A membership update, piggybacked on protocol messages (SWIM §4.1 dissemination).
public enum Update: Sendable, Equatable {
    /// The member is alive at `incarnation`, with these addresses and metadata.
    case alive(AliveUpdate)
    /// `from` suspects `id` at `incarnation`.
    case suspect(id: NodeID, incarnation: Incarnation, from: NodeID)
    /// `from` declares `id` dead at `incarnation`; `from == id` is a graceful leave.
    case dead(id: NodeID, incarnation: Incarnation, from: NodeID)

    /// The member the update is about.
    public var subject: NodeID {
        switch self {
        case let .alive(a): a.id
        case let .suspect(id, _, _), let .dead(id, _, _): id
        }
    }

    public var incarnation: Incarnation {
        switch self {
        case let .alive(a): a.incarnation
        case let .suspect(_, inc, _), let .dead(_, inc, _): inc
        }
    }

    func encode(into w: inout ByteWriter) {
        switch self {
        case let .alive(a): w.write(UInt8(0)); a.encode(into: &w)
        case let .suspect(id, inc, from): w.write(UInt8(1)); w.write(id); w.write(inc.value); w.write(from)
        case let .dead(id, inc, from): w.write(UInt8(2)); w.write(id); w.write(inc.value); w.write(from)
        }
    }

    init(decoding r: inout ByteReader) throws(WireError) {
        switch try r.readUInt8() {
        case 0: self = .alive(try AliveUpdate(decoding: &r))
        case 1: self = .suspect(id: try r.readNodeID(), incarnation: Incarnation(try r.readUInt64()), from: try r.readNodeID())
        case 2: self = .dead(id: try r.readNodeID(), incarnation: Incarnation(try r.readUInt64()), from: try r.readNodeID())
        case let t: throw .malformed("update tag \(t)")
        }
    }

    /// Encoded size in bytes, for fitting updates into a datagram.
    public var encodedSize: Int {
        switch self {
        case let .alive(a): 1 + a.encodedSize
        case .suspect, .dead: 1 + 32 + 8 + 32
        }
    }
}

/// An alive update: everything a peer needs to admit or refresh a member.
///
/// Immutable and shared by reference: every member table that learns the same update
/// holds one pointer to it, which keeps N members × N tables affordable (the simulator
/// runs 10,000 nodes in one process).
public final class AliveUpdate: Sendable, Equatable {
    public let id: NodeID
    public let incarnation: Incarnation
    public let name: String
    public let addresses: [PeerAddress]
    public let metadata: MemberMetadata

    public init(id: NodeID, incarnation: Incarnation, name: String, addresses: [PeerAddress], metadata: MemberMetadata) {
        self.id = id; self.incarnation = incarnation; self.name = name; self.addresses = addresses; self.metadata = metadata
    }

    /// A copy with some fields changed.
    public func with(incarnation: Incarnation? = nil, addresses: [PeerAddress]? = nil,
                     metadata: MemberMetadata? = nil) -> AliveUpdate {
        AliveUpdate(id: id, incarnation: incarnation ?? self.incarnation, name: name,
                    addresses: addresses ?? self.addresses, metadata: metadata ?? self.metadata)
    }

    public static func == (a: AliveUpdate, b: AliveUpdate) -> Bool {
        a === b || (a.id == b.id && a.incarnation == b.incarnation && a.name == b.name
            && a.addresses == b.addresses && a.metadata == b.metadata)
    }

    func encode(into w: inout ByteWriter) {
        w.write(id); w.write(incarnation.value); w.write(name)
        w.writeList(addresses) { w, a in a.encode(into: &w) }
        metadata.encode(into: &w)
    }

    convenience init(decoding r: inout ByteReader) throws(WireError) {
        let id = try r.readNodeID()
        let incarnation = Incarnation(try r.readUInt64())
        let name = try r.readString(limit: 64)
        let addresses = try r.readList(limit: MembershipLimits.maxAddresses, minElementBytes: 7) { (r: inout ByteReader) throws(WireError) in
            try PeerAddress(decoding: &r)
        }
        self.init(id: id, incarnation: incarnation, name: name, addresses: addresses, metadata: try MemberMetadata(decoding: &r))
    }

    public var encodedSize: Int { var w = ByteWriter(); encode(into: &w); return w.count }
}

/// Wire-level limits of membership messages.
public enum MembershipLimits {
    /// Addresses a member may advertise (a mesh radio, a wired gateway, IPv4 and IPv6).
    public static let maxAddresses = 8
    /// Updates piggybacked on one datagram.
    public static let maxUpdatesPerMessage = 64
    /// Member states in one push-pull exchange.
    public static let maxPushPullStates = 100_000
}

/// A direct probe (SWIM §3). `target` guards against an address now used by another node.
public struct Ping: Sendable, Equatable {
    public var seq: UInt32
    public var target: NodeID
    public var coordinate: Coordinate?
    public var updates: [Update]
}

/// Asks the receiver to probe `target` on our behalf (SWIM §3.1, indirect probe).
/// `wantsNack`: Lifeguard §IV-B — answer with a nack if the target does not ack in time.
public struct PingRequest: Sendable, Equatable {
    public var seq: UInt32
    public var target: NodeID
    public var targetAddresses: [PeerAddress]
    public var wantsNack: Bool
    public var updates: [Update]
}

/// The answer to a ping, or a relayed answer to a ping request.
public struct Ack: Sendable, Equatable {
    public var seq: UInt32
    public var coordinate: Coordinate?
    public var updates: [Update]
}

/// "I asked the target and heard nothing" (Lifeguard): tells the requester that its own
/// network path to the intermediary works.
public struct Nack: Sendable, Equatable {
    public var seq: UInt32
    public var updates: [Update]
}

/// Updates only, sent to a few random members every gossip interval (SWIM §4.1 with
/// memberlist's dedicated gossip round).
public struct Gossip: Sendable, Equatable {
    public var updates: [Update]
}

/// One member's full state, as exchanged in push-pull.
public struct MemberState: Sendable, Equatable {
    public var alive: AliveUpdate
    public var status: MemberStatus
    public var coordinate: Coordinate?
}

/// A full-state exchange over TCP (memberlist's push-pull): the initiator sends its table,
/// the receiver merges it and replies with its own.
public struct PushPull: Sendable, Equatable {
    public var isJoin: Bool
    public var isReply: Bool
    public var states: [MemberState]
}

/// Every membership message.
public enum MembershipMessage: Sendable, Equatable {
    case ping(Ping)
    case pingRequest(PingRequest)
    case ack(Ack)
    case nack(Nack)
    case pushPull(PushPull)
    case gossip(Gossip)

    public var kind: MessageKind {
        switch self {
        case .ping: .ping
        case .pingRequest: .pingRequest
        case .ack: .ack
        case .nack: .nack
        case .pushPull: .pushPull
        case .gossip: .gossip
        }
    }

    public var encoded: [UInt8] {
        var w = ByteWriter()
        switch self {
        case let .ping(p):
            w.write(p.seq); w.write(p.target); Self.encode(p.coordinate, &w); Self.encode(p.updates, &w)
        case let .pingRequest(p):
            w.write(p.seq); w.write(p.target); w.writeList(p.targetAddresses) { w, a in a.encode(into: &w) }
            w.write(p.wantsNack); Self.encode(p.updates, &w)
        case let .ack(a):
            w.write(a.seq); Self.encode(a.coordinate, &w); Self.encode(a.updates, &w)
        case let .nack(n):
            w.write(n.seq); Self.encode(n.updates, &w)
        case let .gossip(g):
            Self.encode(g.updates, &w)
        case let .pushPull(p):
            w.write(p.isJoin); w.write(p.isReply)
            w.writeList(p.states) { w, s in
                s.alive.encode(into: &w); w.write(s.status.rawValue); Self.encode(s.coordinate, &w)
            }
        }
        return w.bytes
    }

    /// Decodes a body of the given kind; anything malformed is a typed error.
    public static func decode(kind: MessageKind, body: [UInt8]) throws(WireError) -> MembershipMessage {
        var r = ByteReader(body)
        let m: MembershipMessage
        switch kind {
        case .ping:
            m = .ping(Ping(seq: try r.readUInt32(), target: try r.readNodeID(), coordinate: try decodeCoordinate(&r),
                           updates: try decodeUpdates(&r)))
        case .pingRequest:
            m = .pingRequest(PingRequest(
                seq: try r.readUInt32(), target: try r.readNodeID(),
                targetAddresses: try r.readList(limit: MembershipLimits.maxAddresses, minElementBytes: 7) { (r: inout ByteReader) throws(WireError) in
                    try PeerAddress(decoding: &r)
                },
                wantsNack: try r.readBool(), updates: try decodeUpdates(&r)))
        case .ack:
            m = .ack(Ack(seq: try r.readUInt32(), coordinate: try decodeCoordinate(&r), updates: try decodeUpdates(&r)))
        case .nack:
            m = .nack(Nack(seq: try r.readUInt32(), updates: try decodeUpdates(&r)))
        case .gossip:
            m = .gossip(Gossip(updates: try decodeUpdates(&r)))
        case .pushPull:
            let isJoin = try r.readBool(), isReply = try r.readBool()
            let states = try r.readList(limit: MembershipLimits.maxPushPullStates, minElementBytes: 60) { (r: inout ByteReader) throws(WireError) -> MemberState in
                let alive = try AliveUpdate(decoding: &r)
                let raw = try r.readUInt8()
                guard let status = MemberStatus(rawValue: raw) else { throw .malformed("member status \(raw)") }
                return MemberState(alive: alive, status: status, coordinate: try decodeCoordinate(&r))
            }
            m = .pushPull(PushPull(isJoin: isJoin, isReply: isReply, states: states))
        default:
            throw .unknownKind(kind.rawValue)
        }
        try r.expectEnd()
        return m
    }

    private static func encode(_ c: Coordinate?, _ w: inout ByteWriter) {
        if let c { w.write(true); c.encode(into: &w) } else { w.write(false) }
    }

    private static func decodeCoordinate(_ r: inout ByteReader) throws(WireError) -> Coordinate? {
        try r.readBool() ? try Coordinate(decoding: &r) : nil
    }

    private static func encode(_ updates: [Update], _ w: inout ByteWriter) {
        w.writeList(updates) { w, u in u.encode(into: &w) }
    }

    private static func decodeUpdates(_ r: inout ByteReader) throws(WireError) -> [Update] {
        try r.readList(limit: MembershipLimits.maxUpdatesPerMessage, minElementBytes: 60) { (r: inout ByteReader) throws(WireError) in
            try Update(decoding: &r)
        }
    }

    /// The fixed part of each message's encoding, before its piggybacked updates.
    static let pingFixedBytes = 4 + 32 + 1 + Coordinate.encodedSize + 4
    static let ackFixedBytes = 4 + 1 + Coordinate.encodedSize + 4
    static let pingRequestFixedBytes = 4 + 32 + 4 + MembershipLimits.maxAddresses * 19 + 1 + 4
    static let gossipFixedBytes = 4
}
