import MeshCore

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

/// One log entry: the term it was created in and an opaque command for the state machine.
/// An empty command is the no-op a new leader appends to commit its term (Raft §8).
public struct LogEntry: Sendable, Equatable {
    public var term: Term
    public var index: LogIndex
    public var command: [UInt8]
    public init(term: Term, index: LogIndex, command: [UInt8]) { self.term = term; self.index = index; self.command = command }
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

/// Raft's messages (figure 2), plus pre-vote (Ongaro's thesis §9.6).
public enum RaftMessage: Sendable, Equatable {
    case requestVote(RequestVote)
    case voteResponse(VoteResponse)
    case appendEntries(AppendEntries)
    case appendResponse(AppendResponse)
}

public struct RequestVote: Sendable, Equatable {
    /// A pre-vote asks "would you vote for me at `term`?" without anyone changing term.
    public var preVote: Bool
    public var term: Term
    public var lastLogIndex: LogIndex
    public var lastLogTerm: Term
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
}

public struct AppendResponse: Sendable, Equatable {
    public var term: Term
    public var success: Bool
    /// On success, the last index now known to match the leader's log.
    public var matchIndex: LogIndex
    /// On failure, where the leader should retry from (fast backtracking: the follower's
    /// last index, or the first index of the conflicting term).
    public var hintIndex: LogIndex
}
