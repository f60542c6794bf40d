/// One event of the replicated log, as `GET /v1/events` and `meshctl events --json` show it.
public struct EventInfo: Codable, Sendable, Equatable {
    /// Wall-clock time of the event's hybrid timestamp, ISO 8601.
    public var time: String
    public var kind: String
    /// The origin's member name when known, else its short id.
    public var node: String
    public var origin: String
    public var seq: UInt64
    public var attributes: [String: String]

    public init(time: String, kind: String, node: String, origin: String, seq: UInt64, attributes: [String: String]) {
        self.time = time; self.kind = kind; self.node = node; self.origin = origin; self.seq = seq; self.attributes = attributes
    }
}

/// `POST /v1/events`: append a user event.
public struct EventSendRequest: Codable, Sendable, Equatable {
    public var kind: String
    public var attributes: [String: String]
    public init(kind: String, attributes: [String: String]) { self.kind = kind; self.attributes = attributes }
}

/// A mesh-wide variable.
public struct VarInfo: Codable, Sendable, Equatable {
    public var key: String
    public var value: String
    /// The Raft log index that last set it.
    public var index: UInt64
    public init(key: String, value: String, index: UInt64) { self.key = key; self.value = value; self.index = index }
}

/// `GET /v1/vars[/KEY]`: values and how fresh they are.
public struct VarsResponse: Codable, Sendable, Equatable {
    public var vars: [VarInfo]
    /// True when read from this agent's replica without asking the leader (`--stale`).
    public var stale: Bool
    /// The index this replica had applied when it answered.
    public var appliedIndex: UInt64
    /// How far it was behind the highest index this agent knew committed, and how long ago
    /// it last applied an entry (what a `--stale` read is worth).
    public var lagEntries: UInt64?
    public var appliedAgeSeconds: Double?

    public init(vars: [VarInfo], stale: Bool, appliedIndex: UInt64, lagEntries: UInt64? = nil, appliedAgeSeconds: Double? = nil) {
        self.vars = vars; self.stale = stale; self.appliedIndex = appliedIndex
        self.lagEntries = lagEntries; self.appliedAgeSeconds = appliedAgeSeconds
    }

    enum CodingKeys: String, CodingKey {
        case vars, stale, appliedIndex = "applied_index", lagEntries = "lag_entries", appliedAgeSeconds = "applied_age_seconds"
    }
}

/// `PUT /v1/vars/KEY` body.
public struct VarSetRequest: Codable, Sendable, Equatable {
    public var value: String
    public init(value: String) { self.value = value }
}

/// The answer to a replicated write: committed and applied at `index`.
public struct CommandResult: Codable, Sendable, Equatable {
    public var result: String
    public var index: UInt64
    public init(result: String, index: UInt64) { self.result = result; self.index = index }
}

/// `POST /v1/raft/recover`: re-form the voter set from this survivor after a quorum loss.
public struct RaftRecoverRequest: Codable, Sendable, Equatable {
    /// Must be true: recovery loses whatever only the lost voters held.
    public var force: Bool
    public init(force: Bool) { self.force = force }
}

/// What `POST /v1/raft/recover` did: this agent is the only voter in `term`, and the alive
/// members refill as learners (the leader promotes them as they catch up).
public struct RaftRecoverResult: Codable, Sendable, Equatable {
    public var term: UInt64
    public var voters: [String]
    public var learners: [String]
    public init(term: UInt64, voters: [String], learners: [String]) {
        self.term = term; self.voters = voters; self.learners = learners
    }
}
