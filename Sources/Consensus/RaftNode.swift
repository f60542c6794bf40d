import MeshCore

/// What a Raft node asks its shell to do, in this order: persist `hardState` and the log
/// changes (and fsync), then send `messages`, then apply `committed` to the state machine.
/// Nothing may be sent before it is persisted: a vote or an acknowledgement must survive
/// a crash (Raft figure 2).
public struct RaftReady: Sendable, Equatable {
    public var hardState: HardState?
    /// Remove every entry at or after this index before appending `entries`.
    public var truncateFrom: LogIndex?
    public var entries: [LogEntry] = []
    public var messages: [Outgoing] = []
    public var committed: [LogEntry] = []
    /// A snapshot received from the leader: persist it (replacing the log up to its index)
    /// and restore the state machine from it before applying `committed`.
    public var snapshot: RaftSnapshot?
    /// Reads asked of this leader (`readIndex`) that are now confirmed or failed. Apply
    /// `committed` first: a read may be answered once the state has applied its index.
    public var reads: [ReadState] = []

    public struct Outgoing: Sendable, Equatable {
        public var to: NodeID
        public var message: RaftMessage
    }

    public init(hardState: HardState? = nil, truncateFrom: LogIndex? = nil, entries: [LogEntry] = [],
                messages: [Outgoing] = [], committed: [LogEntry] = [], snapshot: RaftSnapshot? = nil) {
        self.hardState = hardState; self.truncateFrom = truncateFrom; self.entries = entries
        self.messages = messages; self.committed = committed; self.snapshot = snapshot
    }

    public var isEmpty: Bool {
        hardState == nil && truncateFrom == nil && entries.isEmpty && messages.isEmpty && committed.isEmpty && snapshot == nil
            && reads.isEmpty
    }
}

/// The answer to a `RaftNode.readIndex` request: the index a linearizable read must wait
/// for the state machine to apply, or nil when this node stopped leading before it could
/// confirm its leadership (ask the new leader).
public struct ReadState: Sendable, Equatable {
    public var id: UInt64
    public var index: LogIndex?
    public init(id: UInt64, index: LogIndex?) { self.id = id; self.index = index }
}

/// Why a proposal was refused.
public enum RaftError: Error, Equatable, Sendable, CustomStringConvertible {
    case notLeader(leader: NodeID?)
    case tooManyUncommitted(limit: Int)
    case transferring(to: NodeID)
    case configurationPending(index: LogIndex)
    case notSingleServerChange
    case unknownMember(NodeID)
    /// A forced recovery was asked while a leader is known or this node leads.
    case quorumReachable(leader: NodeID?)
    /// A forced recovery was asked on a node whose storage was reset.
    case abstaining

    public var description: String {
        switch self {
        case let .notLeader(leader): leader.map { "not the leader; the leader is \($0)" } ?? "no leader is known"
        case let .tooManyUncommitted(limit): "\(limit) proposals are waiting to commit; retry when they do"
        case let .transferring(to): "leadership is moving to \(to); retry shortly"
        case let .configurationPending(index): "the configuration change at \(index) has not committed yet"
        case .notSingleServerChange: "a configuration change may add or remove one voter at a time"
        case let .unknownMember(id): "\(id) is not a voter or learner"
        case let .quorumReachable(leader): "a leader is reachable (\(leader.map { "\($0)" } ?? "this node")); recovery is only for a voter set that lost its quorum for good"
        case .abstaining: "this node's raft storage was reset after damage; recover from a survivor whose log is intact"
        }
    }
}

/// Raft (Ongaro and Ousterhout, "In Search of an Understandable Consensus Algorithm",
/// 2014) with pre-vote and check-quorum, as a pure state machine: fed messages, ticks and
/// proposals with the current time, it returns a `RaftReady` for its shell to execute.
public struct RaftNode: Sendable {
    public let id: NodeID
    public let settings: RaftSettings
    /// The configuration in effect: the newest one in the log, committed or not (§4.1).
    public private(set) var configuration: RaftConfiguration
    /// Where `configuration` came from (zero: the initial configuration).
    public private(set) var configurationIndex = LogIndex.zero
    /// True when `configuration` came from the snapshot: `configurationIndex` is then the
    /// snapshot's index, not the configuration entry's own (compacted away).
    public private(set) var configurationInSnapshot = false
    let initialConfiguration: RaftConfiguration
    public var voters: [NodeID] { configuration.voters }
    public private(set) var role: RaftRole = .follower
    public private(set) var leader: NodeID?
    public internal(set) var hard: HardState {
        didSet {
            // Raft's safety rests on these (§5.1, §5.4): a term once seen is never taken
            // back, and what is known committed stays committed. A violation is a bug in
            // this core; the simulator's runs exercise every path that sets them.
            precondition(hard.term >= oldValue.term, "Raft: the term went back from \(oldValue.term) to \(hard.term)")
            precondition(hard.commit >= oldValue.commit, "Raft: the commit index went back from \(oldValue.commit) to \(hard.commit)")
        }
    }
    /// The log after the snapshot, in memory (index i at position i - snapshot index - 1).
    public internal(set) var log: [LogEntry]
    /// The snapshot the log starts after (nil: the log starts at index 1). Its data is
    /// kept to send to followers that need entries compacted away (Raft §7).
    public internal(set) var snapshot: RaftSnapshot?
    public var snapshotIndex: LogIndex { snapshot?.index ?? .zero }
    var snapshotTerm: Term { snapshot?.term ?? .zero }
    /// A snapshot being received, with the bytes so far.
    var incoming: InstallSnapshot?
    /// Leader: the offset of the next chunk, per follower being sent the snapshot.
    var snapshotOffsets: [NodeID: UInt64] = [:]
    public internal(set) var applied: LogIndex
    /// True while this node's storage was found damaged and it restarted empty: it neither
    /// votes nor campaigns, and its acknowledgements do not count towards commit, until it
    /// learns of a committed configuration in which it is not a voter (its leader removed
    /// it); then it is an ordinary learner that can be promoted again. Its lost votes and
    /// log can therefore never be counted twice.
    public private(set) var abstaining: Bool
    /// On the leader: peers that answered as abstaining (their replicas do not count).
    public private(set) var abstainingPeers: Set<NodeID> = []
    /// Why this node last stopped leading (nil: it never led).
    public private(set) var lastStepDown: RaftStepDown?

    var random: SeededRandom
    var electionDeadline: MeshTime
    var heartbeatAt = MeshTime.zero
    /// When the leader last sent a heartbeat round, and its commit index then.
    var lastHeartbeat = MeshTime.zero
    var lastHeartbeatCommit = LogIndex.zero
    var lastHeardFromLeader: MeshTime?
    var votes: Set<NodeID> = []
    var nextIndex: [NodeID: LogIndex] = [:]
    /// The leader's knowledge of each follower's log (empty on other roles).
    public internal(set) var matchIndex: [NodeID: LogIndex] = [:]
    var inflight: [NodeID: Int] = [:]
    /// When the leader last heard each peer answer (check-quorum).
    var lastAnswer: [NodeID: MeshTime] = [:]
    /// Peers that answered since the last heartbeat round (see `quiet`).
    var answeredSinceHeartbeat: Set<NodeID> = []
    var transferTarget: NodeID?
    var transferDeadline = MeshTime.zero
    var ready = RaftReady()
    var persistedHard: HardState
    /// ReadIndex (thesis §6.4): the leader's read round, carried by every AppendEntries and
    /// echoed in the answers; the highest round each peer echoed in this term; and the
    /// reads waiting for a quorum to echo a round sent after they arrived.
    var readRound: UInt64 = 0
    var ackedRound: [NodeID: UInt64] = [:]
    var pendingReads: [(id: UInt64, round: UInt64)] = []

    /// Restores a node from what its storage holds (empty for a new node).
    /// `voters` is the initial configuration, used until the log holds a configuration entry.
    public init(id: NodeID, voters: [NodeID], learners: [NodeID] = [], settings: RaftSettings, random: SeededRandom,
                now: MeshTime, hardState: HardState = HardState(), snapshot: RaftSnapshot? = nil, log: [LogEntry] = [],
                abstaining: Bool = false) {
        self.id = id; self.settings = settings; self.random = random; self.abstaining = abstaining
        initialConfiguration = RaftConfiguration(voters: voters, learners: learners)
        configuration = initialConfiguration
        hard = hardState; persistedHard = hardState; self.snapshot = snapshot
        let after = snapshot?.index ?? .zero
        self.log = log.filter { $0.index > after }
        // The shell restored the state machine from the snapshot.
        applied = after
        if hard.commit < after { hard.commit = after }
        electionDeadline = now
        electionDeadline = now + randomElectionTimeout()
        recomputeConfiguration()
    }

    /// Takes the newest configuration entry of the log, else the initial configuration.
    mutating func recomputeConfiguration() {
        if let e = log.last(where: { $0.kind == .configuration }), let c = try? RaftConfiguration.decode(e.command) {
            configuration = c; configurationIndex = e.index; configurationInSnapshot = false
        } else {
            configuration = snapshot?.configuration ?? initialConfiguration; configurationIndex = snapshotIndex
            configurationInSnapshot = snapshot != nil
        }
        if role == .leader {
            for peer in peers where nextIndex[peer] == nil { nextIndex[peer] = lastIndex.next; matchIndex[peer] = .zero }
        }
    }

    // MARK: Queries

    public var term: Term { hard.term }
    public var commitIndex: LogIndex { hard.commit }
    public var lastIndex: LogIndex { LogIndex(snapshotIndex.value + UInt64(log.count)) }
    public var lastTerm: Term { log.last?.term ?? snapshotTerm }
    public var quorum: Int { voters.count / 2 + 1 }
    public var isVoter: Bool { voters.contains(id) }
    /// A voter whose storage is intact: it may vote and campaign.
    var mayVote: Bool { isVoter && !abstaining }

    /// The term of the entry at `index`; nil when it is past the log or compacted away.
    public func term(at index: LogIndex) -> Term? {
        if index == snapshotIndex { return snapshotTerm }
        guard index > snapshotIndex, index <= lastIndex else { return nil }
        return log[position(index)].term
    }

    /// The entry at `index`, unless it is past the log or compacted into the snapshot.
    public func entry(at index: LogIndex) -> LogEntry? {
        index > snapshotIndex && index <= lastIndex ? log[position(index)] : nil
    }

    /// Where `index` is in `log`.
    @inline(__always) func position(_ index: LogIndex) -> Int { Int(index.value - snapshotIndex.value) - 1 }

    /// When `tick` must run next.
    public var nextWakeup: MeshTime {
        guard role == .leader else { return electionDeadline }
        let next = settings.checkQuorum ? min(heartbeatAt, quorumContactEnds) : heartbeatAt
        return transferTarget == nil ? next : min(next, transferDeadline)
    }

    /// Check-quorum as a sliding window: the moment a leader stops having heard a quorum
    /// of voters (itself included) within the last election timeout plus one short
    /// heartbeat interval, which is when it steps down. That is the answer time of the
    /// least recent member of the most recently heard quorum, plus that window. Checked
    /// exactly then rather than once per fixed period: an isolated leader steps down one
    /// window after its last contact (a periodic check took between one and two election
    /// timeouts), and a healthy leader never wakes for it. The extra interval gives an
    /// unanswered round one more try (with the election timeout alone, 10 % loss cost an
    /// election in 2 of 100 simulated idle hours); the followers' lease, one election
    /// timeout, has run out by then, so they may already elect another leader, and this
    /// one cannot commit anything meanwhile.
    var quorumContactEnds: MeshTime {
        let needed = quorum - (isVoter ? 1 : 0)
        guard needed > 0 else { return MeshTime(nanoseconds: .max) }
        let heard = voters.filter { $0 != id && !abstainingPeers.contains($0) }
            .map { lastAnswer[$0] ?? .zero }.sorted(by: >)
        guard heard.count >= needed else { return .zero }
        return heard[needed - 1] + settings.electionTimeout + settings.heartbeatInterval
    }

    /// A leader with nothing to replicate or commit, not transferring, whose every peer
    /// answered the last heartbeat round, which carried the current commit index: its
    /// next heartbeat may wait `idleHeartbeatInterval` after that round.
    var quiet: Bool {
        guard role == .leader, transferTarget == nil, hard.commit == lastIndex, hard.commit == lastHeartbeatCommit else { return false }
        return peers.allSatisfy { matchIndex[$0] == lastIndex && answeredSinceHeartbeat.contains($0) }
    }

    /// After an answer: once the leader is quiet, its next heartbeat waits
    /// `idleHeartbeatInterval` after the round every peer answered; while it is not (an
    /// entry to replicate, or a commit index the followers have not been sent), at most
    /// `heartbeatInterval`.
    mutating func noteAnswered(now: MeshTime) {
        if quiet {
            heartbeatAt = max(heartbeatAt, lastHeartbeat + settings.idleHeartbeatInterval)
        } else {
            heartbeatAt = min(heartbeatAt, max(now, lastHeartbeat + settings.heartbeatInterval))
        }
    }

    /// Whether a configuration change is waiting to commit.
    public var configurationPending: Bool { configurationIndex > hard.commit }

    // MARK: Inputs

    /// Runs timers: elections for followers, heartbeats and quorum checks for a leader.
    public mutating func tick(now: MeshTime) -> RaftReady {
        switch role {
        case .leader:
            if transferTarget != nil, now >= transferDeadline { transferTarget = nil }
            if now >= heartbeatAt {
                // The short interval until every peer has answered this round (then
                // `noteAnswered` moves it to the idle one): a round that goes unanswered is
                // repeated after `heartbeatInterval`, not after the idle interval.
                heartbeatAt = now + settings.heartbeatInterval
                lastHeartbeat = now
                lastHeartbeatCommit = hard.commit
                answeredSinceHeartbeat = []
                for peer in peers { sendAppend(to: peer, heartbeat: true) }
            }
            if settings.checkQuorum, now >= quorumContactEnds {
                becomeFollower(term: term, leader: nil, now: now)
            }
        case .follower, .preCandidate, .candidate:
            if now >= electionDeadline {
                if !mayVote {
                    electionDeadline = now + randomElectionTimeout()   // a learner never campaigns
                } else if settings.preVote { startPreVote(now: now) } else { campaign(now: now) }
            }
        }
        return takeReady()
    }

    /// Appends a command to the log if this node leads; returns its index. The command is
    /// committed when an entry at that index with this term comes back in `committed`.
    public mutating func propose(_ command: [UInt8], now: MeshTime) -> Result<(LogIndex, Term, RaftReady), RaftError> {
        propose(.command, command)
    }

    /// Appends several commands at once if this node leads (group commit): one log write
    /// and one AppendEntries per follower carry them all. Accepts as many as the
    /// uncommitted limit leaves room for, in order; returns their indexes (possibly fewer
    /// than `commands`: the rest are refused).
    public mutating func propose(batch commands: [[UInt8]], now: MeshTime) -> Result<([LogIndex], Term, RaftReady), RaftError> {
        guard role == .leader else { return .failure(.notLeader(leader: leader)) }
        if let t = transferTarget { return .failure(.transferring(to: t)) }
        let uncommitted = lastIndex.value - hard.commit.value
        guard uncommitted < UInt64(settings.maxUncommittedEntries) else {
            return .failure(.tooManyUncommitted(limit: settings.maxUncommittedEntries))
        }
        let room = Int(UInt64(settings.maxUncommittedEntries) - uncommitted)
        let indexes = commands.prefix(room).map { appendLocal($0, kind: .command).index }
        for peer in peers { sendAppend(to: peer, heartbeat: false) }
        maybeCommit()
        return .success((indexes, term, takeReady()))
    }

    /// Asks for a read index (thesis §6.4, ReadIndex): the leader's commit index once it has
    /// confirmed that it still leads, which a linearizable read waits for the state machine
    /// to apply. Confirmation is one heartbeat round started now (all of `ids` share it)
    /// and answered by a quorum of voters, and the leader must have committed an entry of
    /// its own term (the no-op it appends when elected), so its commit index is at least
    /// every index committed before the read arrived. The answers come in
    /// `RaftReady.reads`: no entry is written, so a read costs the leader one heartbeat
    /// round, whatever the size of the mesh. Refused (`notLeader`) on any other role.
    public mutating func readIndex(_ ids: [UInt64], now: MeshTime) -> Result<RaftReady, RaftError> {
        guard role == .leader else { return .failure(.notLeader(leader: leader)) }
        guard !ids.isEmpty else { return .success(takeReady()) }
        readRound += 1
        pendingReads += ids.map { ($0, readRound) }
        if !voterPeers.isEmpty {
            for peer in peers { sendAppend(to: peer, heartbeat: true) }
        }
        resolveReads()
        return .success(takeReady())
    }

    /// Answers the pending reads whose round a quorum of voters (this leader included)
    /// has echoed, once an entry of this term is committed.
    mutating func resolveReads() {
        guard role == .leader, !pendingReads.isEmpty, term(at: hard.commit) == term else { return }
        let echoed = voters.map { $0 == id ? readRound : abstainingPeers.contains($0) ? 0 : ackedRound[$0, default: 0] }
            .sorted(by: >)
        let confirmed = echoed[quorum - 1]
        let done = pendingReads.filter { $0.round <= confirmed }
        guard !done.isEmpty else { return }
        pendingReads.removeAll { $0.round <= confirmed }
        ready.reads += done.map { ReadState(id: $0.id, index: hard.commit) }
    }

    /// Fails every pending read (this node stops leading).
    mutating func failReads() {
        ready.reads += pendingReads.map { ReadState(id: $0.id, index: nil) }
        pendingReads = []
    }

    /// Proposes a new configuration: at most one voter added or removed, learners freely,
    /// one change in flight at a time (thesis §4.1).
    public mutating func proposeConfiguration(_ new: RaftConfiguration, now: MeshTime) -> Result<(LogIndex, Term, RaftReady), RaftError> {
        guard role == .leader else { return .failure(.notLeader(leader: leader)) }
        guard !configurationPending else { return .failure(.configurationPending(index: configurationIndex)) }
        let old = Set(voters), next = Set(new.voters)
        guard old.symmetricDifference(next).count <= 1, !next.isEmpty else { return .failure(.notSingleServerChange) }
        return propose(.configuration, new.encoded)
    }

    mutating func propose(_ kind: LogEntryKind, _ command: [UInt8]) -> Result<(LogIndex, Term, RaftReady), RaftError> {
        guard role == .leader else { return .failure(.notLeader(leader: leader)) }
        if let t = transferTarget { return .failure(.transferring(to: t)) }
        guard lastIndex.value - hard.commit.value < UInt64(settings.maxUncommittedEntries) else {
            return .failure(.tooManyUncommitted(limit: settings.maxUncommittedEntries))
        }
        let entry = appendLocal(command, kind: kind)
        for peer in peers { sendAppend(to: peer, heartbeat: false) }
        maybeCommit()
        return .success((entry.index, entry.term, takeReady()))
    }

    /// Hands leadership to `target` (thesis §3.10): once its log matches, it is told to
    /// campaign at once; proposals are refused meanwhile. Used on graceful leave.
    public mutating func transferLeadership(to target: NodeID, now: MeshTime) -> Result<RaftReady, RaftError> {
        guard role == .leader else { return .failure(.notLeader(leader: leader)) }
        guard target != id, voters.contains(target) else { return .failure(.unknownMember(target)) }
        transferTarget = target
        transferDeadline = now + settings.electionTimeout
        if matchIndex[target, default: .zero] == lastIndex {
            send(.timeoutNow(term), to: target)
        } else {
            sendAppend(to: target, heartbeat: false)
        }
        return .success(takeReady())
    }

    /// Recovery after the voter set has lost its quorum for good (its voters destroyed):
    /// an explicit, operator-forced step that Raft's safety cannot cover, so it refuses
    /// while this node leads or hears a leader (`quorumReachable`) and on a node whose
    /// storage was reset (`abstaining`). This node raises its term, appends a
    /// configuration in which it is the only voter and `learners` (the surviving members)
    /// refill, and leads it at once: the no-op of its term commits everything in its log.
    /// The shell's voter policy then promotes the learners one at a time.
    ///
    /// Entries that only the lost voters held are lost; run it on the survivor whose log
    /// is the most complete.
    public mutating func forceSoleVoter(learners: [NodeID], now: MeshTime) -> Result<RaftReady, RaftError> {
        if role == .leader || inLeaderLease(now: now) { return .failure(.quorumReachable(leader: leader)) }
        if abstaining { return .failure(.abstaining) }
        hard.term = term.next
        hard.votedFor = id
        role = .candidate
        _ = appendLocal(RaftConfiguration(voters: [id], learners: learners.filter { $0 != id }).encoded, kind: .configuration)
        becomeLeader(now: now)
        return .success(takeReady())
    }

    /// Handles one message from `from`.
    public mutating func step(_ message: RaftMessage, from: NodeID, now: MeshTime) -> RaftReady {
        switch message {
        case let .requestVote(m): handleRequestVote(m, from: from, now: now)
        case let .voteResponse(m): handleVoteResponse(m, from: from, now: now)
        case let .appendEntries(m): handleAppendEntries(m, from: from, now: now)
        case let .appendResponse(m): handleAppendResponse(m, from: from, now: now)
        case let .timeoutNow(t):
            if t == term, from == leader, mayVote { campaign(now: now, transfer: true) }
        case let .installSnapshot(m): handleInstallSnapshot(m, from: from, now: now)
        case let .snapshotResponse(m): handleSnapshotResponse(m, from: from, now: now)
        }
        return takeReady()
    }

    // MARK: Elections (§5.2, §5.4.1, thesis §9.6)

    /// Everyone this node replicates to when it leads: voters and learners but itself.
    var peers: [NodeID] { (configuration.voters + configuration.learners).filter { $0 != id } }
    var voterPeers: [NodeID] { configuration.voters.filter { $0 != id } }

    mutating func randomElectionTimeout() -> Duration {
        settings.electionTimeout.scaled(by: 1 + random.nextUnit())
    }

    /// A log at (lastTerm, lastIndex) is at least as up to date as ours (§5.4.1).
    func isUpToDate(lastTerm t: Term, lastIndex i: LogIndex) -> Bool {
        t > lastTerm || (t == lastTerm && i >= lastIndex)
    }

    /// True while a leader we follow has been heard within the minimum election timeout:
    /// then we neither grant votes nor pre-votes (the leader lease of check-quorum).
    func inLeaderLease(now: MeshTime) -> Bool {
        // A leader is its own lease: it steps down by check-quorum, not by a pre-vote.
        if settings.checkQuorum, role == .leader { return true }
        guard settings.checkQuorum, leader != nil, let heard = lastHeardFromLeader else { return false }
        return now - heard < settings.electionTimeout
    }

    mutating func startPreVote(now: MeshTime) {
        role = .preCandidate
        leader = nil
        votes = [id]
        electionDeadline = now + randomElectionTimeout()
        if votes.count >= quorum { campaign(now: now); return }
        let request = RequestVote(preVote: true, term: term.next, lastLogIndex: lastIndex, lastLogTerm: lastTerm)
        for peer in voterPeers { send(.requestVote(request), to: peer) }
    }

    mutating func campaign(now: MeshTime, transfer: Bool = false) {
        role = .candidate
        leader = nil
        hard.term = term.next
        hard.votedFor = id
        votes = [id]
        electionDeadline = now + randomElectionTimeout()
        if votes.count >= quorum { becomeLeader(now: now); return }
        let request = RequestVote(preVote: false, term: term, lastLogIndex: lastIndex, lastLogTerm: lastTerm, transfer: transfer)
        for peer in voterPeers { send(.requestVote(request), to: peer) }
    }

    mutating func handleRequestVote(_ m: RequestVote, from: NodeID, now: MeshTime) {
        if m.preVote {
            let grant = !abstaining && m.term > term && isUpToDate(lastTerm: m.lastLogTerm, lastIndex: m.lastLogIndex) && !inLeaderLease(now: now)
            send(.voteResponse(VoteResponse(preVote: true, term: grant ? m.term : term, granted: grant)), to: from)
            return
        }
        if inLeaderLease(now: now), m.term > term, !m.transfer { return }   // a disruptive candidate: ignore
        if m.term > term { becomeFollower(term: m.term, leader: nil, now: now) }
        let grant = !abstaining && m.term == term && (hard.votedFor == nil || hard.votedFor == from)
            && isUpToDate(lastTerm: m.lastLogTerm, lastIndex: m.lastLogIndex)
        if grant {
            hard.votedFor = from
            electionDeadline = now + randomElectionTimeout()
        }
        send(.voteResponse(VoteResponse(preVote: false, term: term, granted: grant)), to: from)
    }

    mutating func handleVoteResponse(_ m: VoteResponse, from: NodeID, now: MeshTime) {
        if !m.granted, m.term > term {
            becomeFollower(term: m.term, leader: nil, now: now)
            return
        }
        guard m.granted, voters.contains(from) else { return }
        if m.preVote, role == .preCandidate, m.term == term.next {
            votes.insert(from)
            if votes.count >= quorum { campaign(now: now) }
        } else if !m.preVote, role == .candidate, m.term == term {
            votes.insert(from)
            if votes.count >= quorum { becomeLeader(now: now) }
        }
    }

    mutating func becomeFollower(term newTerm: Term, leader newLeader: NodeID?, now: MeshTime) {
        if role == .leader { lastStepDown = newTerm > term ? .newerTerm(newTerm) : .quorumContactLost; failReads() }
        if newTerm > term { hard.term = newTerm; hard.votedFor = nil }
        role = .follower
        leader = newLeader
        transferTarget = nil
        electionDeadline = now + randomElectionTimeout()
    }

    mutating func becomeLeader(now: MeshTime) {
        role = .leader
        leader = id
        nextIndex = [:]; matchIndex = [:]; inflight = [:]; abstainingPeers = []; snapshotOffsets = [:]
        ackedRound = [:]; pendingReads = []
        for peer in peers { nextIndex[peer] = lastIndex.next; matchIndex[peer] = .zero }
        // The votes that elected it count as contact: a new leader has one election
        // timeout to hear its quorum answer.
        lastAnswer = Dictionary(uniqueKeysWithValues: peers.map { ($0, now) })
        answeredSinceHeartbeat = []
        heartbeatAt = now + settings.heartbeatInterval
        // A no-op in the new term lets earlier entries commit (§5.4.2, §8).
        _ = appendLocal([])
        for peer in peers { sendAppend(to: peer, heartbeat: false) }
        maybeCommit()
        resolveReads()
    }

    // MARK: Replication (§5.3)

    mutating func appendLocal(_ command: [UInt8], kind: LogEntryKind = .command) -> LogEntry {
        let entry = LogEntry(term: term, index: lastIndex.next, kind: kind, command: command)
        log.append(entry)
        ready.entries.append(entry)
        if kind == .configuration { recomputeConfiguration() }
        return entry
    }

    /// Sends `peer` the entries it lacks (up to the batch limits), or a heartbeat.
    mutating func sendAppend(to peer: NodeID, heartbeat: Bool) {
        let next = nextIndex[peer] ?? lastIndex.next
        let inFlight = inflight[peer, default: 0]
        if next <= snapshotIndex {
            // What it needs was compacted: a snapshot chunk instead (a heartbeat resends it).
            if heartbeat || inFlight == 0 { sendSnapshotChunk(to: peer) }
            return
        }
        var entries: [LogEntry] = []
        if !heartbeat || inFlight == 0 {
            guard heartbeat || inFlight < settings.maxInflightMessages else { return }
            var bytes = 0
            var i = next
            while i <= lastIndex, entries.count < settings.maxEntriesPerMessage {
                let e = log[position(i)]
                if !entries.isEmpty, bytes + e.command.count > settings.maxBytesPerMessage { break }
                entries.append(e); bytes += e.command.count
                i = i.next
            }
        }
        if !heartbeat && entries.isEmpty { return }
        let prev = next.previous
        let message = AppendEntries(term: term, prevLogIndex: prev, prevLogTerm: self.term(at: prev) ?? .zero,
                                    entries: entries, leaderCommit: hard.commit, readRound: readRound)
        if let last = entries.last {
            nextIndex[peer] = last.index.next      // optimistic: pipelining
            inflight[peer] = inFlight + 1
        }
        send(.appendEntries(message), to: peer)
    }

    mutating func handleAppendEntries(_ m: AppendEntries, from: NodeID, now: MeshTime) {
        guard m.term >= term else {
            send(.appendResponse(AppendResponse(term: term, success: false, matchIndex: .zero, hintIndex: .zero)), to: from)
            return
        }
        becomeFollower(term: m.term, leader: from, now: now)
        lastHeardFromLeader = now
        if m.prevLogIndex > lastIndex {
            reject(to: from, hint: lastIndex.next, round: m.readRound)
            return
        }
        if let t = term(at: m.prevLogIndex), t != m.prevLogTerm {
            // Skip the whole conflicting term in one round trip.
            var hint = m.prevLogIndex
            while hint.value > hard.commit.value + 1, term(at: hint.previous) == t { hint = hint.previous }
            reject(to: from, hint: max(hint, hard.commit.next), round: m.readRound)
            return
        }
        var configurationTouched = false
        for e in m.entries where e.index > snapshotIndex {     // those up to it are committed and in the snapshot
            if let existing = term(at: e.index) {
                if existing == e.term { continue }
                precondition(e.index > hard.commit, "Raft safety: a committed entry would be overwritten")
                if e.index <= configurationIndex { configurationTouched = true }
                log.removeSubrange(position(e.index)...)
                ready.truncateFrom = min(ready.truncateFrom ?? e.index, e.index)
                ready.entries.removeAll { $0.index >= e.index }
            }
            log.append(e)
            ready.entries.append(e)
            if e.kind == .configuration { configurationTouched = true }
        }
        if configurationTouched { recomputeConfiguration() }
        let lastNew = LogIndex(m.prevLogIndex.value + UInt64(m.entries.count))
        let newCommit = min(m.leaderCommit, lastNew)
        if newCommit > hard.commit { hard.commit = newCommit }
        stopAbstainingIfRemoved(leader: from)
        send(.appendResponse(AppendResponse(term: term, success: true, matchIndex: lastNew, hintIndex: .zero,
                                            abstaining: abstaining, readRound: m.readRound)), to: from)
    }

    /// Removed from the voters by a committed change: from now on an ordinary learner.
    /// Records a vote for the leader that removed it, so this term can never see a second
    /// vote from this node (the one it may have cast before losing its disk).
    mutating func stopAbstainingIfRemoved(leader: NodeID) {
        guard abstaining, configurationIndex > .zero, configurationIndex <= hard.commit, !isVoter else { return }
        abstaining = false
        if hard.votedFor == nil { hard.votedFor = leader }
    }

    mutating func reject(to leader: NodeID, hint: LogIndex, round: UInt64) {
        send(.appendResponse(AppendResponse(term: term, success: false, matchIndex: .zero, hintIndex: hint,
                                            abstaining: abstaining, readRound: round)), to: leader)
    }

    mutating func handleAppendResponse(_ m: AppendResponse, from: NodeID, now: MeshTime) {
        if m.term > term { becomeFollower(term: m.term, leader: nil, now: now); return }
        guard role == .leader, m.term == term, peers.contains(from) else { return }
        lastAnswer[from] = now
        answeredSinceHeartbeat.insert(from)
        if m.readRound > ackedRound[from, default: 0] { ackedRound[from] = m.readRound }
        defer { noteAnswered(now: now); resolveReads() }
        if m.abstaining { abstainingPeers.insert(from) } else { abstainingPeers.remove(from) }
        if m.success {
            inflight[from] = max(0, inflight[from, default: 0] - 1)
            if m.matchIndex > matchIndex[from, default: .zero] { matchIndex[from] = m.matchIndex }
            if nextIndex[from, default: .zero] <= m.matchIndex { nextIndex[from] = m.matchIndex.next }
            maybeCommit()
            if role == .leader, from == transferTarget, matchIndex[from] == lastIndex { send(.timeoutNow(term), to: from) }
        } else {
            // A follower that lost its storage (abstaining) no longer holds what it once
            // acknowledged: start again from what it has now. (For any other follower a
            // hint below its match index is a stale reply, and the match index stands.)
            if m.abstaining, m.hintIndex <= matchIndex[from, default: .zero] { matchIndex[from] = m.hintIndex.previous }
            // Back up to the follower's hint, never below what it is known to hold.
            let floor = matchIndex[from, default: .zero].next
            nextIndex[from] = max(floor, min(m.hintIndex, nextIndex[from, default: lastIndex.next]))
            inflight[from] = 0
        }
        if nextIndex[from, default: lastIndex.next] <= lastIndex { sendAppend(to: from, heartbeat: false) }
    }

    /// Commits the highest index stored on a quorum, if it is of the current term
    /// (§5.4.2: a leader never commits an earlier term's entry by counting replicas).
    mutating func maybeCommit() {
        var matches = voters.map { $0 == id ? lastIndex : abstainingPeers.contains($0) ? .zero : matchIndex[$0, default: .zero] }
        matches.sort(by: >)
        let candidate = matches[quorum - 1]
        if candidate > hard.commit, term(at: candidate) == term { hard.commit = candidate }
        // A leader removed from the voters leads until that change commits, then steps down.
        if !isVoter, hard.commit >= configurationIndex, configurationIndex > .zero {
            if role == .leader { lastStepDown = .removedFromVoters; failReads() }
            role = .follower
            leader = nil
        }
    }

    // MARK: Output

    mutating func send(_ message: RaftMessage, to peer: NodeID) {
        ready.messages.append(.init(to: peer, message: message))
    }

    mutating func takeReady() -> RaftReady {
        if hard != persistedHard { ready.hardState = hard; persistedHard = hard }
        if hard.commit > applied {
            ready.committed = Array(log[position(applied.next) ... position(hard.commit)])
            applied = hard.commit
        }
        defer { ready = RaftReady() }
        return ready
    }
}
