import MeshCore
import MeshWire

/// A Raft term (Raft §5.1): a logical clock that only grows.
public struct Term: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var value: UInt64
    public init(_ value: UInt64) { self.value = value }
    public static let zero = Term(0)
    public static func < (a: Term, b: Term) -> Bool { a.value < b.value }
    public var next: Term { Term(value + 1) }
    public var description: String { "\(value)" }
}

/// A position in the replicated log, from 1; 0 means "before the first entry".
public struct LogIndex: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var value: UInt64
    public init(_ value: UInt64) { self.value = value }
    public static let zero = LogIndex(0)
    public static func < (a: LogIndex, b: LogIndex) -> Bool { a.value < b.value }
    public var next: LogIndex { LogIndex(value + 1) }
    public var previous: LogIndex { LogIndex(value == 0 ? 0 : value - 1) }
    public var description: String { "\(value)" }
}

/// What a log entry holds.
public enum LogEntryKind: UInt8, Sendable {
    /// A command for the state machine (empty: the no-op a new leader appends, Raft §8).
    case command = 0
    /// A new configuration (voters and learners), in effect as soon as it is in a log
    /// (thesis §4.1, single-server changes).
    case configuration = 1
}

/// One log entry: the term it was created in and its payload.
public struct LogEntry: Sendable, Equatable {
    public var term: Term
    public var index: LogIndex
    public var kind: LogEntryKind
    public var command: [UInt8]
    public init(term: Term, index: LogIndex, kind: LogEntryKind = .command, command: [UInt8]) {
        self.term = term; self.index = index; self.kind = kind; self.command = command
    }
}

/// Who votes and who only follows.
public struct RaftConfiguration: Sendable, Equatable {
    public var voters: [NodeID]
    /// Non-voting members that receive the log (catching up before promotion).
    public var learners: [NodeID]

    public init(voters: [NodeID], learners: [NodeID] = []) {
        self.voters = voters.sorted(); self.learners = learners.filter { !voters.contains($0) }.sorted()
    }

    public var encoded: [UInt8] {
        var w = ByteWriter()
        w.writeList(voters) { w, id in w.write(id) }
        w.writeList(learners) { w, id in w.write(id) }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(WireError) -> RaftConfiguration {
        var r = ByteReader(bytes)
        let voters = try r.readList(limit: RaftLimits.maxVoters, minElementBytes: 32) { (r: inout ByteReader) throws(WireError) in try r.readNodeID() }
        let learners = try r.readList(limit: 1024, minElementBytes: 32) { (r: inout ByteReader) throws(WireError) in try r.readNodeID() }
        try r.expectEnd()
        return RaftConfiguration(voters: voters, learners: learners)
    }
}

/// What must be on disk before a node answers anything (Raft figure 2, "persistent state").
public struct HardState: Sendable, Equatable {
    public var term: Term
    public var votedFor: NodeID?
    public var commit: LogIndex
    public init(term: Term = .zero, votedFor: NodeID? = nil, commit: LogIndex = .zero) {
        self.term = term; self.votedFor = votedFor; self.commit = commit
    }
}

/// A node's role.
public enum RaftRole: String, Sendable {
    case follower, preCandidate = "pre_candidate", candidate, leader
}

/// Why a leader stopped leading, for the operator's log (etcd logs the same moments).
public enum RaftStepDown: Sendable, Equatable, CustomStringConvertible {
    /// Check-quorum: no quorum of voters answered within an election timeout.
    case quorumContactLost
    /// A message carried a newer term (a voter that timed out and campaigned).
    case newerTerm(Term)
    /// The leader's removal from the voters committed.
    case removedFromVoters

    /// A short name for a metric's label.
    public var label: String {
        switch self {
        case .quorumContactLost: "quorum_contact_lost"
        case .newerTerm: "newer_term"
        case .removedFromVoters: "removed_from_voters"
        }
    }

    public var description: String {
        switch self {
        case .quorumContactLost: "no quorum of voters answered within the election timeout"
        case let .newerTerm(t): "a message carried the newer term \(t)"
        case .removedFromVoters: "its removal from the voters committed"
        }
    }
}

/// Raft's messages (figure 2), plus pre-vote (Ongaro's thesis §9.6).
public enum RaftMessage: Sendable, Equatable {
    case requestVote(RequestVote)
    case voteResponse(VoteResponse)
    case appendEntries(AppendEntries)
    case appendResponse(AppendResponse)
    /// Leadership transfer (thesis §3.10): "campaign now", sent by the leader to the
    /// chosen successor once its log is up to date.
    case timeoutNow(Term)
    /// A chunk of the leader's snapshot (Raft §7) and the answer to it.
    case installSnapshot(InstallSnapshot)
    case snapshotResponse(SnapshotResponse)
}

public struct RequestVote: Sendable, Equatable {
    /// A pre-vote asks "would you vote for me at `term`?" without anyone changing term.
    public var preVote: Bool
    public var term: Term
    public var lastLogIndex: LogIndex
    public var lastLogTerm: Term
    /// Part of a leadership transfer: voters grant it even inside a leader lease.
    public var transfer: Bool = false
}

public struct VoteResponse: Sendable, Equatable {
    public var preVote: Bool
    public var term: Term
    public var granted: Bool
}

public struct AppendEntries: Sendable, Equatable {
    public var term: Term
    public var prevLogIndex: LogIndex
    public var prevLogTerm: Term
    public var entries: [LogEntry]
    public var leaderCommit: LogIndex
    /// The leader's read round when it sent this (ReadIndex, thesis §6.4): echoed in the
    /// answer, so the leader knows the follower still followed it after a read arrived.
    public var readRound: UInt64 = 0

    public init(term: Term, prevLogIndex: LogIndex, prevLogTerm: Term, entries: [LogEntry], leaderCommit: LogIndex, readRound: UInt64 = 0) {
        self.term = term; self.prevLogIndex = prevLogIndex; self.prevLogTerm = prevLogTerm; self.entries = entries
        self.leaderCommit = leaderCommit; self.readRound = readRound
    }
}

public struct AppendResponse: Sendable, Equatable {
    public var term: Term
    public var success: Bool
    /// On success, the last index now known to match the leader's log.
    public var matchIndex: LogIndex
    /// On failure, where the leader should retry from (fast backtracking: the follower's
    /// last index, or the first index of the conflicting term).
    public var hintIndex: LogIndex
    /// The follower lost its storage and refills: its replica does not count (see
    /// `RaftNode.abstaining`).
    public var abstaining: Bool = false
    /// The `readRound` of the AppendEntries this answers.
    public var readRound: UInt64 = 0

    public init(term: Term, success: Bool, matchIndex: LogIndex, hintIndex: LogIndex, abstaining: Bool = false, readRound: UInt64 = 0) {
        self.term = term; self.success = success; self.matchIndex = matchIndex; self.hintIndex = hintIndex
        self.abstaining = abstaining; self.readRound = readRound
    }
}
