import MeshCore

/// A committed log entry as a replica receives it: from Raft (a voter or learner) or from
/// the leader's `control.*` events in the event log (any member).
public struct CommittedEntry: Sendable, Equatable {
    public var entry: LogEntry
    /// False when the entry's command did not fit in its event (an event holds at most
    /// 900 bytes of attributes): the replica cannot apply it, and stops before it until it
    /// installs the control state of a voter taken at or after it.
    public var complete: Bool

    public init(_ entry: LogEntry, complete: Bool = true) { self.entry = entry; self.complete = complete }
}

/// Limits of a `ControlReplica`, with named defaults.
public struct ControlReplicaSettings: Sendable, Equatable {
    /// Entries received ahead of a gap and held until it is filled; beyond it the newest
    /// are dropped (the repair below, or anti-entropy and the start-up replay of the event
    /// log, bring them again). 4,096 entries: about 40 s of a saturating write load's
    /// publishing, far more than the event log's reordering.
    public var maxBufferedEntries = 4096
    /// A replica behind what it knows is committed for this long asks a voter for its
    /// control state (`install`): a gap the event log does not fill (events pruned by
    /// retention, an entry too large for an event, a buffer overflow).
    public var repairAfter = Duration.seconds(3)

    public init(maxBufferedEntries: Int = 4096, repairAfter: Duration = .seconds(3)) {
        self.maxBufferedEntries = maxBufferedEntries; self.repairAfter = repairAfter
    }
}

/// Every agent's copy of the control state, voter or not, as a pure state machine: it
/// applies committed entries strictly in index order, whichever source brings them first
/// (Raft's apply on a voter or learner, the leader's `control.*` events on every member),
/// holds out-of-order ones up to `maxBufferedEntries`, ignores duplicates, and installs a
/// voter's state when it fell behind a gap it cannot fill.
///
/// Why the event log and not Raft learners (etcd) or forwarding every read (Consul
/// clients): a learner costs the leader one AppendEntries stream per member per commit,
/// so the leader's work grows with N; a Consul-style client holds no state and puts every
/// read on the servers. The leader already publishes each applied entry once into the
/// event log, whose broadcast trees spread it to N members at a per-node cost that does
/// not depend on N, and whose anti-entropy fills what a datagram lost. Linearizable reads
/// still ask the leader, but only for its read index (one heartbeat round), and answer
/// from the local replica.
public struct ControlReplica: Sendable {
    public let settings: ControlReplicaSettings
    public private(set) var state: ControlState
    /// Every entry up to here is applied (commands, no-ops and configurations).
    public private(set) var appliedIndex: LogIndex
    /// When `appliedIndex` last moved.
    public private(set) var advancedAt: MeshTime
    /// The highest index this replica knows to be committed: entries it received (applied
    /// or held), read indexes the leader gave it, Raft's commit index on a voter.
    public private(set) var knownCommit: LogIndex
    /// Since when this replica has been behind `knownCommit` (nil: caught up).
    public private(set) var behindSince: MeshTime?
    /// Entries held ahead of a gap, by index.
    var buffered: [LogIndex: CommittedEntry] = [:]
    /// Entries dropped because the buffer was full, since the start.
    public private(set) var dropped = 0
    /// The voters of the newest configuration entry this replica applied, and its index:
    /// whom a quorum read asks (`QuorumReadTally`). Nil while unknown (none applied since
    /// the start or the last install, or one that did not decode): reads then ask the leader.
    public private(set) var configuration: (index: LogIndex, voters: [NodeID])?

    public init(state: ControlState = ControlState(), appliedIndex: LogIndex = .zero, now: MeshTime,
                settings: ControlReplicaSettings = ControlReplicaSettings()) {
        self.settings = settings; self.state = state
        self.appliedIndex = max(appliedIndex, state.appliedIndex)
        advancedAt = now; knownCommit = self.appliedIndex
    }

    /// Entries held ahead of a gap.
    public var bufferedCount: Int { buffered.count }
    /// How far behind `knownCommit`.
    public var lagEntries: UInt64 { knownCommit.value - appliedIndex.value }

    /// Takes committed entries in any order; applies, in index order, all that can be.
    /// Returns the entries applied now, each with its result (for whoever waits on it).
    public mutating func offer(_ entries: [CommittedEntry], now: MeshTime) -> [(LogEntry, ControlResult)] {
        for e in entries where e.entry.index > appliedIndex {
            note(commit: e.entry.index, now: now)
            if buffered[e.entry.index] == nil || !buffered[e.entry.index]!.complete {
                guard buffered.count < settings.maxBufferedEntries || buffered[e.entry.index] != nil else { dropped += 1; continue }
                buffered[e.entry.index] = e
            }
        }
        return drain(now: now)
    }

    /// Records that `index` is committed (a read index, Raft's commit index).
    public mutating func note(commit index: LogIndex, now: MeshTime) {
        if index > knownCommit { knownCommit = index }
        if knownCommit > appliedIndex, behindSince == nil { behindSince = now }
    }

    /// Whether a repair is due: behind for `repairAfter`.
    public func needsRepair(now: MeshTime) -> Bool {
        behindSince.map { now - $0 >= settings.repairAfter } ?? false
    }

    /// Installs a control state taken at `index` (a voter's, or Raft's snapshot) when it is
    /// ahead of this replica; entries held beyond it then apply. A state behind this
    /// replica is ignored: it would go back in time.
    /// `configuration`: the newest configuration entry at or before `index` and its voters,
    /// when the sender knows it (else quorum reads wait for the next one).
    public mutating func install(_ installed: ControlState, at index: LogIndex,
                                 configuration: (index: LogIndex, voters: [NodeID])? = nil, now: MeshTime) -> Bool {
        guard index > appliedIndex else { return false }
        state = installed
        appliedIndex = index
        advancedAt = now
        self.configuration = configuration.flatMap { $0.index <= index && !$0.voters.isEmpty ? $0 : nil }
        for i in buffered.keys where i <= index { buffered.removeValue(forKey: i) }
        note(commit: index, now: now)
        _ = drain(now: now)
        caughtUp(now: now)
        return true
    }

    mutating func drain(now: MeshTime) -> [(LogEntry, ControlResult)] {
        var applied: [(LogEntry, ControlResult)] = []
        while let next = buffered[appliedIndex.next], next.complete {
            buffered.removeValue(forKey: next.entry.index)
            let result = next.entry.kind == .command ? state.apply(next.entry) : .ok
            if next.entry.kind == .configuration {
                configuration = (try? RaftConfiguration.decode(next.entry.command)).map { (next.entry.index, $0.voters) }
            }
            appliedIndex = next.entry.index
            applied.append((next.entry, result))
        }
        if !applied.isEmpty { advancedAt = now; caughtUp(now: now) }
        return applied
    }

    mutating func caughtUp(now: MeshTime) {
        behindSince = knownCommit > appliedIndex ? now : nil
    }
}
