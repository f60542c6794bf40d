import MeshCore

/// This node as a member: its identity, addresses and metadata.
public struct LocalMember: Sendable, Equatable {
    public var id: NodeID
    public var name: String
    public var addresses: [PeerAddress]
    public var metadata: MemberMetadata

    public init(id: NodeID, name: String, addresses: [PeerAddress], metadata: MemberMetadata = .init()) {
        self.id = id; self.name = name; self.addresses = addresses; self.metadata = metadata
    }
}

/// What this node knows about one member, for the operator and the layers above.
public struct MemberSnapshot: Sendable, Equatable {
    public var id: NodeID
    public var name: String
    public var status: MemberStatus
    public var incarnation: Incarnation
    public var addresses: [PeerAddress]
    /// The address the member last answered a direct probe on.
    public var answeredAddress: PeerAddress?
    public var metadata: MemberMetadata
    /// Smoothed round trip of direct probes.
    public var rtt: Duration?
    public var coordinate: Coordinate?
    /// When this node last saw the status change.
    public var statusSince: MeshTime
    public var isLocal: Bool
}

/// Counters of the protocol's work, for /metrics and the simulator.
public struct MembershipMetrics: Sendable, Equatable {
    public var probesSent: UInt64 = 0
    public var probeFailures: UInt64 = 0
    public var indirectProbesSent: UInt64 = 0
    public var nacksSent: UInt64 = 0
    public var suspicionsRaised: UInt64 = 0
    public var refutations: UInt64 = 0
    /// Newer states sent straight back to a member that relayed stale suspicions.
    public var correctionsSent: UInt64 = 0
    public var deathsDeclared: UInt64 = 0
    public var messagesSent: UInt64 = 0
    public var updatesSent: UInt64 = 0
    public var pushPulls: UInt64 = 0
    public var pingsForAnotherNode: UInt64 = 0
    public var metadataRejected: UInt64 = 0
    public init() {}
}

/// The member table's entry for one peer. Kept small (the simulator holds N × N of
/// them: 10,000 nodes are 10⁸ records): the alive update is a shared reference,
/// suspicions and Vivaldi coordinates live in their own tables (a member's coordinate is
/// known only once it has been probed or has probed us), and the one-byte fields come last
/// so the record packs into 40 bytes.
struct MemberRecord: Sendable {
    /// The newest alive update heard (identity, addresses, metadata).
    var alive: AliveUpdate
    /// The member's incarnation as far as we know; a suspect or dead update may raise it
    /// above `alive.incarnation`.
    var incarnation: Incarnation {
        // What is known of a member only moves forward (older updates are ignored).
        didSet { precondition(incarnation >= oldValue, "membership: a member's incarnation went back from \(oldValue) to \(incarnation)") }
    }
    var statusSince: MeshTime
    /// Smoothed direct round trip in nanoseconds; 0 until measured.
    var rttNanoseconds: Int64 = 0
    var status: MemberStatus
    /// Index into `alive.addresses` of the address that answered the last direct probe.
    var answeredIndex: Int8 = -1

    init(alive: AliveUpdate, status: MemberStatus, statusSince: MeshTime) {
        self.alive = alive; self.incarnation = alive.incarnation; self.status = status; self.statusSince = statusSince
    }

    var answeredAddress: PeerAddress? {
        get { answeredIndex >= 0 && Int(answeredIndex) < alive.addresses.count ? alive.addresses[Int(answeredIndex)] : nil }
        set { answeredIndex = newValue.flatMap { alive.addresses.firstIndex(of: $0) }.map { Int8($0) } ?? -1 }
    }

    var rtt: Duration? { rttNanoseconds > 0 ? .nanoseconds(rttNanoseconds) : nil }

    /// Where to send a direct probe: the address that answered last, else the first.
    var preferredAddress: PeerAddress? { answeredAddress ?? alive.addresses.first }

    func snapshot(coordinate: Coordinate?) -> MemberSnapshot {
        MemberSnapshot(id: alive.id, name: alive.name, status: status, incarnation: incarnation,
                       addresses: alive.addresses, answeredAddress: answeredAddress, metadata: alive.metadata,
                       rtt: rtt, coordinate: coordinate, statusSince: statusSince, isLocal: false)
    }
}
