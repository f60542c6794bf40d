/// This agent and the mesh as `GET /v1/status` and `meshctl status --json` show them.
///
/// `leader`, `term`, `voters`, `quorum_reachable`, `commit_index`, `applied_index` and
/// `voter_health` are `null` while the consensus layer has no view yet; `consensus` says so
/// in words.
public struct StatusInfo: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var address: String
    public var addresses: [String]
    public var apiAddress: String
    /// The timing profile (`lan`, `wan`, `local`).
    public var profile: String
    /// Member counts by status (`alive`, `suspect`, `dead`, `left`), this agent included.
    public var members: [String: Int]
    public var leader: String?
    public var term: UInt64?
    public var voters: [String]?
    public var quorumReachable: Bool?
    /// A one-line description of the consensus layer's state.
    public var consensus: String
    /// The highest log index this agent knows committed, and the highest it has applied.
    public var commitIndex: UInt64?
    public var appliedIndex: UInt64?
    /// How many committed entries this agent's control replica has not applied yet, and
    /// seconds since it last applied one (every member holds a replica, voter or not).
    public var lagEntries: UInt64?
    public var appliedAgeSeconds: Double?
    /// Each voter as membership sees it from here.
    public var voterHealth: [VoterHealth]?
    /// Seconds since this agent started.
    public var uptimeSeconds: Double
    /// Whether this agent is leaving or has left the mesh.
    public var leaving: Bool

    public init(id: String, name: String, address: String, addresses: [String], apiAddress: String,
                profile: String, members: [String: Int], leader: String?, term: UInt64?, voters: [String]?,
                quorumReachable: Bool?, consensus: String, uptimeSeconds: Double, leaving: Bool,
                commitIndex: UInt64? = nil, appliedIndex: UInt64? = nil, voterHealth: [VoterHealth]? = nil,
                lagEntries: UInt64? = nil, appliedAgeSeconds: Double? = nil) {
        self.lagEntries = lagEntries; self.appliedAgeSeconds = appliedAgeSeconds
        self.id = id; self.name = name; self.address = address; self.addresses = addresses
        self.apiAddress = apiAddress; self.profile = profile; self.members = members; self.leader = leader
        self.term = term; self.voters = voters; self.quorumReachable = quorumReachable
        self.consensus = consensus; self.uptimeSeconds = uptimeSeconds; self.leaving = leaving
        self.commitIndex = commitIndex; self.appliedIndex = appliedIndex; self.voterHealth = voterHealth
    }

    enum CodingKeys: String, CodingKey {
        case id, name, address, addresses, apiAddress = "api_address", profile, members, leader, term, voters
        case quorumReachable = "quorum_reachable", consensus, uptimeSeconds = "uptime_seconds", leaving
        case commitIndex = "commit_index", appliedIndex = "applied_index", voterHealth = "voter_health"
        case lagEntries = "lag_entries", appliedAgeSeconds = "applied_age_seconds"
    }

    /// Writes `null` for the consensus fields rather than leaving them out, so scripts can
    /// rely on every key being present.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id); try c.encode(name, forKey: .name)
        try c.encode(address, forKey: .address); try c.encode(addresses, forKey: .addresses)
        try c.encode(apiAddress, forKey: .apiAddress); try c.encode(profile, forKey: .profile)
        try c.encode(members, forKey: .members)
        try c.encode(leader, forKey: .leader); try c.encode(term, forKey: .term)
        try c.encode(voters, forKey: .voters); try c.encode(quorumReachable, forKey: .quorumReachable)
        try c.encode(consensus, forKey: .consensus); try c.encode(uptimeSeconds, forKey: .uptimeSeconds)
        try c.encode(leaving, forKey: .leaving)
        try c.encode(commitIndex, forKey: .commitIndex); try c.encode(appliedIndex, forKey: .appliedIndex)
        try c.encode(voterHealth, forKey: .voterHealth)
        try c.encode(lagEntries, forKey: .lagEntries); try c.encode(appliedAgeSeconds, forKey: .appliedAgeSeconds)
    }
}

/// One voter in `meshctl status`: its membership status as this agent sees it (`alive`,
/// `suspect`, `dead`, `left`, or `unknown` for a voter this agent has not heard of).
public struct VoterHealth: Codable, Sendable, Equatable {
    public var name: String
    public var id: String
    public var status: String
    public var leader: Bool

    public init(name: String, id: String, status: String, leader: Bool) {
        self.name = name; self.id = id; self.status = status; self.leader = leader
    }
}
