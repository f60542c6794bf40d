import MeshCore

/// How a shell carries out the core's output (`RaftReady`): what is sent before the save,
/// what the save writes, what is sent after it, and when the commit index is stored. One
/// policy, run by the agent (`ConsensusService`), the simulator (`RaftSimulation`) and the
/// tests' cluster alike, so the simulator checks the order the agent runs.
///
/// - Persist, then send, then apply: the order Raft needs. One exception: a leader's
///   AppendEntries go out before its own log write (thesis §10.2.1), so the followers'
///   fsyncs run in parallel with the leader's. That is safe only while the shell handles no
///   other input before the save has returned (the leader counts its own log towards commit
///   only when it handles an answer), and only when the term and vote those messages carry
///   are durable already.
/// - The commit index is kept in memory; the stored one only lets a restart tell a log that
///   lost synced entries, and an older value is still a true lower bound there. So a save
///   writes it only when the stored one is `commitStoreInterval` old, and a ready that only
///   moves it needs no save at all: the shell stores it afterwards, if due
///   (`commitToStore`), off the reply's path.
public struct RaftShell: Sendable {
    /// How old the stored commit index may grow before a save writes it (what this saves
    /// is measured in benchmarks/README.md, "Raft against etcd 3.4").
    public static let defaultCommitStoreInterval = Duration.seconds(1)

    public let commitStoreInterval: Duration
    /// The term and vote last written.
    public private(set) var savedTerm: Term
    public private(set) var savedVote: NodeID?
    /// The commit index as last written, and when.
    public private(set) var storedCommit: LogIndex
    public private(set) var commitStoredAt: MeshTime

    /// A shell over storage that holds `loaded` (written at `now`).
    public init(loaded: HardState, now: MeshTime, commitStoreInterval: Duration = RaftShell.defaultCommitStoreInterval) {
        self.commitStoreInterval = commitStoreInterval
        savedTerm = loaded.term
        savedVote = loaded.votedFor
        storedCommit = loaded.commit
        commitStoredAt = now
    }

    /// One ready, in the order the shell carries it out.
    public struct Plan: Sendable, Equatable {
        /// Sent before the save (a leader's AppendEntries, its term durable).
        public var sendFirst: [RaftReady.Outgoing] = []
        /// What the save writes; nil when nothing must be durable before the rest.
        public var save: RaftReady?
        /// Sent once the save has returned.
        public var sendAfter: [RaftReady.Outgoing] = []
        /// The ready only moved the commit index: store it afterwards if due (`commitToStore`).
        public var storeCommitAfterwards = false
    }

    public func commitStoreDue(now: MeshTime) -> Bool { now >= commitStoredAt + commitStoreInterval }

    /// How to carry out `ready` on a node that is (or is not) the leader.
    public func plan(_ ready: RaftReady, isLeader: Bool, now: MeshTime) -> Plan {
        var plan = Plan()
        let termDurable = ready.hardState.map { $0.term == savedTerm && $0.votedFor == savedVote } ?? true
        if isLeader, termDurable {
            for m in ready.messages {
                if case .appendEntries = m.message { plan.sendFirst.append(m) } else { plan.sendAfter.append(m) }
            }
        } else {
            plan.sendAfter = ready.messages
        }
        let commitOnly = termDurable && ready.entries.isEmpty && ready.truncateFrom == nil && ready.snapshot == nil
        if commitOnly {
            plan.storeCommitAfterwards = true
        } else {
            var save = ready
            save.messages = []
            save.committed = []
            save.reads = []
            // A hard state that moved only its commit index waits for `commitStoreInterval`.
            if termDurable, !commitStoreDue(now: now) { save.hardState = nil }
            plan.save = save
        }
        return plan
    }

    /// Notes that `plan`'s save returned (it is durable, or written for a commit-only store):
    /// `ready` is the ready it was made from.
    public mutating func saved(_ plan: Plan, of ready: RaftReady, now: MeshTime) {
        if let h = plan.save?.hardState { noteStored(h.commit, now: now) }
        if let h = ready.hardState { savedTerm = h.term; savedVote = h.votedFor }
    }

    /// The save that stores the commit index `hard` holds, when it moved and the stored one
    /// is `commitStoreInterval` old (or at once when `force`, at a stop); nil otherwise.
    /// Call `committedStored` once it is written.
    public func commitToStore(_ hard: HardState, now: MeshTime, force: Bool = false) -> RaftReady? {
        guard hard.commit > storedCommit, force || commitStoreDue(now: now) else { return nil }
        return RaftReady(hardState: hard)
    }

    public mutating func committedStored(_ hard: HardState, now: MeshTime) { noteStored(hard.commit, now: now) }

    private mutating func noteStored(_ commit: LogIndex, now: MeshTime) {
        storedCommit = max(storedCommit, commit)
        commitStoredAt = now
    }
}
