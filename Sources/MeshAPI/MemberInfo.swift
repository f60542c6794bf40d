/// One member as `GET /v1/members` and `meshctl members --json` show it.
///
/// Field names are the lower-snake-case of the `meshctl members` columns (docs/INTERFACES.md).
public struct MemberInfo: Codable, Sendable, Equatable {
    public var name: String
    /// The member's identity: its Ed25519 public key, 64 lowercase hex digits.
    public var id: String
    /// The address the member was last heard on (or its first advertised one), `HOST:PORT`.
    public var address: String
    /// Every address the member advertises.
    public var addresses: [String]
    /// `alive`, `suspect`, `dead` or `left`.
    public var status: String
    public var incarnation: UInt64
    /// `leader`, `voter` or `member`; only `member` until consensus exists.
    public var role: String
    public var tags: [String: String]
    /// The member's HTTP API address, when it advertises one.
    public var apiAddress: String?
    /// The measured round trip from this agent, in milliseconds, when known.
    public var rttMs: Double?
    /// The member's network coordinate, when known.
    public var coordinate: CoordinateInfo?
    /// Whether this row is the agent that answered.
    public var isSelf: Bool

    public init(name: String, id: String, address: String, addresses: [String], status: String,
                incarnation: UInt64, role: String, tags: [String: String], apiAddress: String?,
                rttMs: Double?, coordinate: CoordinateInfo?, isSelf: Bool) {
        self.name = name; self.id = id; self.address = address; self.addresses = addresses
        self.status = status; self.incarnation = incarnation; self.role = role; self.tags = tags
        self.apiAddress = apiAddress; self.rttMs = rttMs; self.coordinate = coordinate; self.isSelf = isSelf
    }

    enum CodingKeys: String, CodingKey {
        case name, id, address, addresses, status, incarnation, role, tags
        case apiAddress = "api_address", rttMs = "rtt_ms", coordinate, isSelf = "self"
    }

    /// Writes `null` for unknown values rather than leaving the key out.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name); try c.encode(id, forKey: .id)
        try c.encode(address, forKey: .address); try c.encode(addresses, forKey: .addresses)
        try c.encode(status, forKey: .status); try c.encode(incarnation, forKey: .incarnation)
        try c.encode(role, forKey: .role); try c.encode(tags, forKey: .tags)
        try c.encode(apiAddress, forKey: .apiAddress); try c.encode(rttMs, forKey: .rttMs)
        try c.encode(coordinate, forKey: .coordinate); try c.encode(isSelf, forKey: .isSelf)
    }
}

/// A Vivaldi network coordinate as the API shows it (distances in seconds, as Serf's).
public struct CoordinateInfo: Codable, Sendable, Equatable {
    public var vector: [Double]
    public var height: Double
    public var error: Double
    public var adjustment: Double

    public init(vector: [Double], height: Double, error: Double, adjustment: Double) {
        self.vector = vector; self.height = height; self.error = error; self.adjustment = adjustment
    }
}
