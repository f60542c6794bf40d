import Consensus
import EventLog
import NIOCore
import NIOPosix
import Synchronization
import Logging
import MeshCore
import MeshWire
import Storage

/// Why a replicated command did not complete.
public enum ConsensusError: Error, Equatable, Sendable, CustomStringConvertible {
    case noLeader(reachable: Int, voters: Int)
    case refused(String)
    case timedOut(Duration)
    /// The leader a command was forwarded to lost its leadership (or died) before answering.
    case leaderChanged
    case storage(String)

    public var description: String {
        switch self {
        case let .noLeader(reachable, voters): "no leader: \(reachable) of \(voters) voters reachable"
        case let .refused(why): why
        case let .timedOut(d): "no answer from the leader within \(d); the command may or may not have been applied"
        case .leaderChanged: "the leader changed before answering; the command may or may not have been applied"
        case let .storage(why): why
        }
    }
}

/// Raft's shell: persists before it sends (fsync in `RaftStorage.save`), applies committed
/// entries to the control state, forwards commands from followers to the leader and
/// answers them after commit and apply, and keeps the voter set healthy when it leads.
actor ConsensusService: ThreadPinnedActor {
    /// Raft's storage fsyncs before anything is sent: this actor runs on its own thread,
    /// never on the cooperative pool that the membership runtime needs for its probes.
    private static let storageThread = DedicatedThread()
    nonisolated var thread: DedicatedThread { Self.storageThread }
    nonisolated var unownedExecutor: UnownedSerialExecutor { thread.executor }

    /// How long a command may wait for its commit before the caller hears `timedOut`.
    static let commandTimeout = Duration.seconds(5)
    /// How long a command waits for a leader to be known before `noLeader`.
    static let leaderWait = Duration.seconds(2)
    static let maxPendingCommands = 10_000
    /// Applied entries waiting to be published into the event log, beyond which new
    /// commands wait (up to `commandTimeout`) before they are proposed: an unbounded queue
    /// would grow without end if the event log fell behind a saturating write load
    /// (measured before publishing was batched: 27,000 entries behind after 45 s of 64 writers).
    static let defaultMaxUnpublishedApplied = 2_000
    let maxUnpublishedApplied: Int
    /// How long applied entries gather before they are handed to `onApplied` together
    /// (one event-log transaction, one fsync, for all of them; etcd's backend commits its
    /// batches every 100 ms the same way). Publishing is off the reply's path: a client
    /// hears its answer after commit and apply, not after this.
    static let publishInterval = Duration.milliseconds(100)
    /// Entries handed to `onApplied` at once, at most.
    static let maxPublishBatch = 1_000
    static let maxTimerSleep = Duration.milliseconds(500)

    let id: NodeID
    let transport: any MeshTransport
    let storage: RaftStorage
    let logger: Logger
    let now: @Sendable () -> MeshTime
    let policy: VoterPolicy
    var node: RaftNode
    /// This node's copy of the control state, fed by Raft's apply when this node is a voter
    /// or learner and by the leader's `control.*` events always (`offerPublished`): the
    /// same replica before and after a promotion or demotion.
    var replica: ControlReplica
    /// Reads this agent forwards to the leader, answered off this actor when they can be.
    nonisolated let forwardedReads = ForwardedReads()
    /// Reads this agent asks a majority of the voters for, and what it answers when asked.
    nonisolated let quorumReads = QuorumReads()
    var state: ControlState { replica.state }
    /// The replica's state and its position, read together.
    func replicaView() -> (ControlState, ConsensusStatus) { (replica.state, status) }

    /// The API token whose secret hashes to `hash`, in this agent's replica.
    func token(hash: String) -> TokenEntry? { replica.state.token(hash: hash) }
    /// How long a read (or a write's answer on the agent that took it) waits for this
    /// replica to apply the leader's index before it asks the leader for its control state
    /// instead (`fetchState`): reads stay linearizable when the event log lags.
    static let readWaitLimit = Duration.seconds(1)
    /// The largest control state a leader sends in one `controlStateReply`.
    static let maxControlStateBytes = WireLimits.maxStreamFrameBytes - 4096
    /// Who waits for a read index from this leader, by read id.
    enum ReadWaiter {
        case local(Caller)
        case remote(NodeID, requestID: UInt64)
        /// A member asked for the control state (`controlStateRequest`).
        case state(NodeID, requestID: UInt64)
    }
    var readWaiters: [UInt64: ReadWaiter] = [:]
    var readBatch: [UInt64] = []
    var nextReadID: UInt64 = 1
    /// Callers waiting for `replica` to apply an index (`whenApplied`).
    var applyWaiters: [(index: LogIndex, id: UInt64, then: (Bool) -> Void)] = []
    var nextApplyWaiterID: UInt64 = 1
    /// The control-state request in flight to the leader, and who waits for it.
    var stateFetch: (requestID: UInt64, done: [(Bool) -> Void])?
    /// Control states installed from the leader since the start.
    var stateFetches = 0
    var members: [NodeID: VoterPolicy.Member] = [:]
    /// The leader and voters as membership metadata advertises them: how a node outside
    /// the voter set (and not yet a learner) finds where to forward commands.
    var advertisedLeader: NodeID?
    var advertisedVoters: [NodeID] = []
    /// Local waiters by log index: the term the entry was proposed in, and the caller.
    var waiters: [LogIndex: [(Term, CheckedContinuation<Result<LogIndex, ConsensusError>, Never>)]] = [:]
    /// Followers' commands this leader proposed: index -> (member, request id, term).
    var remoteWaiters: [LogIndex: [(NodeID, UInt64, Term)]] = [:]
    /// Commands this node forwarded: request id -> caller and the leader it went to.
    var forwarded: [UInt64: (caller: CheckedContinuation<Result<LogIndex, ConsensusError>, Never>, leader: NodeID, isRead: Bool)] = [:]
    /// The leader when `execute` last looked: forwarded commands to any other are failed
    /// at once when it changes, rather than left to time out.
    var knownLeader: NodeID?
    /// Commands waiting for the next group commit (see `flushBatch`).
    var batch: [(command: [UInt8], waiter: Waiter)] = []
    var flushScheduled = false
    /// What is sent before a save, what it writes, and when the commit index is stored:
    /// the policy the simulator runs too.
    var shell: RaftShell
    /// Who waits for a proposed command: a local caller or a member that forwarded it.
    enum Waiter {
        case local(CheckedContinuation<Result<LogIndex, ConsensusError>, Never>)
        case remote(NodeID, requestID: UInt64)
    }
    var nextRequestID: UInt64 = 1
    var timer: Scheduled<Void>?
    /// When `timer` fires.
    var timerDeadline = MeshTime.zero
    /// True while `tick` runs (its caller arms the timer afterwards).
    var ticking = false
    var stopped = false
    /// Told (on this actor's thread) when the role, leader, term, voters or learners change,
    /// so the agent advertises them at once instead of polling (`AgentService`'s glue).
    var onStatusChange: (@Sendable () -> Void)?
    var lastStatus: ConsensusStatus?
    /// What `/metrics` shows of Raft (`metricsText`).
    var counters = ConsensusCounters()
    /// An applied entry, as the publisher gets it: the command it decoded to, and the result.
    struct Applied: Sendable {
        var entry: LogEntry
        var command: ControlCommand?
        var result: ControlResult
    }
    var onApplied: (@Sendable ([Applied]) async -> Void)?
    /// Messages to send, for a transport that cannot take them without waiting (`post`
    /// returns false; the agent's runtime always takes them), handled in order by one task
    /// (`start`). Either way `execute` never suspends, so two readies can never interleave
    /// their log writes, sends or applies (actor reentrancy), and the sends run on another
    /// thread while this actor's thread waits for an fsync.
    let outbox: AsyncStream<Outbound>.Continuation
    let outboxStream: AsyncStream<Outbound>
    /// Applied entries the publishing task has not taken yet, in order, and its wake-up.
    var toPublish: [Applied] = []
    let publishSignal: AsyncStream<Void>.Continuation
    let publishSignals: AsyncStream<Void>
    var workers: [Task<Void, Never>] = []
    /// Applied entries not yet handled by the publishing task (waiting or being published).
    var unpublished = 0

    /// One message for the sending task.
    struct Outbound: Sendable {
        var kind: MessageKind
        var body: [UInt8]
        var to: NodeID
    }

    /// - Parameters:
    ///   - bootstrap: start a new voter set of this node alone when the storage is
    ///     empty (a node started without `--join`); otherwise wait to be added by a leader.
    ///   - abstaining: the storage was found damaged and reset: neither vote nor campaign
    ///     until the leader has removed this node from the voters (`RaftNode.abstaining`).
    init(id: NodeID, storagePath: String, bootstrap: Bool, settings: RaftSettings, policy: VoterPolicy,
         transport: any MeshTransport, now: @escaping @Sendable () -> MeshTime, logger: Logger,
         abstaining: Bool = false, maxUnpublishedApplied: Int = ConsensusService.defaultMaxUnpublishedApplied) throws(RaftStorageError) {
        self.maxUnpublishedApplied = maxUnpublishedApplied
        self.id = id; self.transport = transport; self.now = now; self.logger = logger; self.policy = policy
        let o = AsyncStream.makeStream(of: Outbound.self)
        outboxStream = o.stream; outbox = o.continuation
        let p = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        publishSignals = p.stream; publishSignal = p.continuation
        storage = try RaftStorage(path: storagePath)
        var (hard, snapshot, log) = try storage.loadWithSnapshot()
        var restored = ControlState()
        if let snapshot {
            do { restored = try ControlState(snapshot: snapshot.data) } catch {
                throw .corrupt("the snapshot at \(snapshot.index) does not decode: \(error)")
            }
        }
        replica = ControlReplica(state: restored, appliedIndex: snapshot?.index ?? .zero, now: now())
        if log.isEmpty && snapshot == nil && bootstrap && !abstaining {
            // The first entry names the first voter set, so every later member learns it from the log.
            let first = LogEntry(term: Term(1), index: LogIndex(1), kind: .configuration, command: RaftConfiguration(voters: [id]).encoded)
            hard = HardState(term: Term(1), votedFor: nil, commit: .zero)
            try storage.save(RaftReady(hardState: hard, entries: [first]))
            log = [first]
        }
        shell = RaftShell(loaded: hard, now: now())
        node = RaftNode(id: id, voters: [], settings: settings, random: .fromSystemEntropy(), now: now(),
                        hardState: hard, snapshot: snapshot, log: log, abstaining: abstaining)
    }

    /// Whether this node still abstains after storage damage (the agent keeps a marker
    /// file until it does not).
    var abstaining: Bool { node.abstaining }

    /// Who publishes applied entries: called with those applied within `publishInterval`, in order.
    func setOnApplied(_ f: @escaping @Sendable ([Applied]) async -> Void) { onApplied = f }

    /// The runtime's ban list, kept equal to the replica's bans.
    var bans: BanList?
    func setBans(_ list: BanList) {
        bans = list
        list.set(Set(replica.state.banned.keys))
    }

    func start() {
        let transport = transport, outboxStream = outboxStream, publishSignals = publishSignals
        // Detached: these must not wait for this actor's thread, which an fsync may hold.
        workers = [
            Task.detached { for await m in outboxStream { await transport.send(kind: m.kind, body: m.body, to: m.to, channel: .fitting(m.body.count)) } },
            Task.detached { [weak self] in
                for await _ in publishSignals {
                    try? await Task.sleep(for: Self.publishInterval)    // let what is applied meanwhile join
                    guard let batch = await self?.takeToPublish(), !batch.isEmpty else { continue }
                    if let f = await self?.onApplied { await f(batch) }
                    await self?.published(batch.count)
                }
            },
        ]
        timerFired()
    }

    /// Runs the core's timers as a task scheduled on this actor's own event loop: one
    /// wake-up of this thread per tick, where `Task.sleep` took three (the runtime's timer
    /// thread, the cooperative pool, then this thread) — most of an idle follower's wake-ups.
    func armTimer(after delay: Duration) {
        timer?.cancel()
        timerDeadline = now() + delay
        timer = thread.loop.scheduleTask(in: .nanoseconds(delay.nanoseconds)) { [weak self] in
            // Behind every frame already posted: after this thread was held (a long fsync),
            // the answers and heartbeats that arrived meanwhile are handled before the tick
            // judges the leader's quorum contact or a follower's election timer.
            self?.onOwnThread { $0.timerFired() }
        }
    }

    func timerFired() {
        guard !stopped else { return }
        armTimer(after: tick())
        noteStatus()
    }

    func setOnStatusChange(_ f: @escaping @Sendable () -> Void) { onStatusChange = f }

    /// Calls `onStatusChange` when what the mesh advertises of this node's Raft changed.
    func noteStatus() {
        publishReadRoute()
        if leaderWaiters.count > 0, leaderForCommands != nil { leaderWaiters.wakeAll() }
        var s = status
        s.commitIndex = .zero; s.appliedIndex = .zero; s.lagEntries = 0; s.appliedAge = .zero
        guard s != lastStatus else { return }
        logRoleChange(from: lastStatus, to: s)
        lastStatus = s
        onStatusChange?()
    }

    /// `storage.save`, timed for `/metrics` (a slow disk shows as slow saves before it
    /// shows as lost leaders).
    func timedSave(_ ready: RaftReady) throws(RaftStorageError) {
        let start = ContinuousClock.now
        defer { counters.noteSave(ContinuousClock.now - start) }
        try storage.save(ready)
    }

    /// Raft's `/metrics` families (`meshd_raft_*`).
    func metricsText() -> String {
        AgentMetrics.renderConsensus(counters, role: node.role, hasLeader: node.leader != nil, term: node.term.value,
                                     commit: node.commitIndex.value, applied: node.applied.value)
            + AgentMetrics.renderControlReplica(replica, now: now(), stateFetches: stateFetches)
            + AgentMetrics.renderQuorumReads(quorumReads.counts)
    }

    /// One log line when this node's role, its leader or the term changes: the first thing an
    /// operator asks after a failover is who leads now and why the old leader stopped.
    func logRoleChange(from old: ConsensusStatus?, to new: ConsensusStatus) {
        guard old?.role != new.role || old?.leader != new.leader || old?.term != new.term,
              old != nil || new.leader != nil else { return }      // not the start's "no leader yet"
        var meta: Logger.Metadata = ["term": "\(new.term)", "role": "\(new.role.rawValue)", "leader": "\(new.leader.map { "\($0)" } ?? "none")"]
        if let leader = new.leader, leader != old?.leader { counters.leaderChangesSeen += 1 }
        if old?.role == .leader, new.role != .leader {
            counters.stepDowns[node.lastStepDown?.label ?? "unknown", default: 0] += 1
            meta["reason"] = "\(node.lastStepDown.map { "\($0)" } ?? "unknown")"
            logger.notice("raft: stepped down as leader", metadata: meta)
        } else if new.role == .leader, old?.role != .leader {
            logger.notice("raft: elected leader", metadata: meta)
        } else {
            logger.info("raft: role or leader changed", metadata: meta)
        }
    }

    /// Commands waiting for the event log to catch up (`whenAdmitted`).
    var admitWaiters = ActorWaiters()
    /// Commands waiting for a leader to be known (`whenLeaderKnown`).
    var leaderWaiters = ActorWaiters()

    /// Stores the commit index and closes the storage (its file is this process's alone
    /// while open); after it, nothing is stored or sent.
    func stop() {
        storeCommit(force: true)
        storage.close()
        stopped = true
        publishReadRoute()
        timer?.cancel()
        outbox.finish(); publishSignal.finish()
    }

    func tick() -> Duration {
        ticking = true
        defer { ticking = false }
        execute(node.tick(now: now()))
        storeCommit()
        maintainVoters()
        if replica.needsRepair(now: now()), stateFetch == nil, node.role != .leader {
            logger.info("control replica behind a gap the event log has not filled; asking the leader for its state",
                        metadata: ["applied": "\(replica.appliedIndex)", "known_commit": "\(replica.knownCommit)"])
            fetchState { _ in }
        }
        return wakeDelay
    }

    var wakeDelay: Duration { min(max(node.nextWakeup - now(), .milliseconds(1)), Self.maxTimerSleep) }

    /// Re-arms the timer when what the core last did moved its next wake-up away from
    /// the armed one by more than `timerSlack`. Earlier: a node that just won an election
    /// by a message must heartbeat, and check its quorum contact, on time, not when its
    /// candidate timer would have fired. Later: a quiet leader's answers move its next
    /// heartbeat out, and a timer left at the short interval would wake it for nothing.
    func rearmIfMoved() {
        guard !stopped, !ticking, timer != nil else { return }
        let delay = wakeDelay
        let wake = now() + delay
        guard wake < timerDeadline - Self.timerSlack || wake > timerDeadline + Self.timerSlack else { return }
        armTimer(after: delay)
    }

    static let timerSlack = Duration.milliseconds(1)

    var status: ConsensusStatus {
        ConsensusStatus(role: node.role, leader: node.leader, term: node.term, commitIndex: max(replica.knownCommit, node.commitIndex),
                        appliedIndex: replica.appliedIndex, voters: node.voters, learners: node.configuration.learners,
                        lagEntries: max(replica.knownCommit, node.commitIndex).value - replica.appliedIndex.value,
                        appliedAge: now() - replica.advancedAt)
    }

    /// What membership says of every member (for the voter policy and error messages).
    func membershipChanged(_ view: [NodeID: VoterPolicy.Member], advertisedLeader: NodeID? = nil,
                           advertisedVoters: [NodeID] = []) async {
        members = view
        self.advertisedLeader = advertisedLeader
        self.advertisedVoters = advertisedVoters
        if !advertisedVoters.isEmpty { lastAdvertisedVoters = advertisedVoters }
        maintainVoters()
        rearmIfMoved()
        noteStatus()
        let sight = voterSight
        if sight != signalledVoterSight {
            signalledVoterSight = sight
            onVoterSightChanged?()
        }
    }

    /// The voter set as this node last knew it: Raft's configuration on a voter or learner,
    /// else what the leader last advertised (kept when the leader drops out of sight, so a
    /// member cut off from it still counts the voters it cannot see).
    var lastAdvertisedVoters: [NodeID] = []
    /// How many voters this node sees alive (itself included) out of how many: the
    /// scheduler's test of whether it is on the majority side (`DisconnectWatch`).
    var voterSight: (reachable: Int, voters: Int) {
        let voters = node.voters.isEmpty ? lastAdvertisedVoters : node.voters
        return (voters.filter { $0 == id || members[$0]?.alive == true }.count, voters.count)
    }
    var signalledVoterSight: (reachable: Int, voters: Int) = (0, 0)
    /// What the node reconciler reads before it decides to copy the state (`ReconcileTrigger`).
    func schedulingSignals() -> (applied: LogIndex, sight: (reachable: Int, voters: Int)) { (replica.appliedIndex, voterSight) }
    /// Called when `voterSight` changed (the node reconciler's trigger for `stop_after_disconnect`).
    var onVoterSightChanged: (@Sendable () -> Void)?
    func setOnVoterSightChanged(_ f: @escaping @Sendable () -> Void) { onVoterSightChanged = f }

    /// The leader this node would forward to: its own Raft view first, else what the
    /// mesh advertises (only while that member is alive).
    var leaderForCommands: NodeID? {
        node.leader ?? advertisedLeader.flatMap { members[$0]?.alive == true ? $0 : nil }
    }

    func maintainVoters() {
        guard node.role == .leader, !node.configurationPending else { return }
        let match = Dictionary(uniqueKeysWithValues: node.configuration.learners.map { ($0, matchIndex(of: $0)) })
        guard let next = policy.nextChange(leader: id, configuration: node.configuration, members: members,
                                           matchIndex: match, lastIndex: node.lastIndex, now: now(),
                                           refilling: node.abstainingPeers) else { return }
        if case let .success((index, _, ready)) = node.proposeConfiguration(next, now: now()) {
            logger.info("voter set change proposed", metadata: ["index": "\(index)", "voters": "\(next.voters)", "learners": "\(next.learners)"])
            execute(ready)
        }
    }

    func matchIndex(of peer: NodeID) -> LogIndex { node.matchIndex[peer] ?? .zero }

    /// Hands leadership to another voter before this node leaves (bounded by the caller).
    func transferLeadershipForLeave() async {
        guard node.role == .leader, let target = node.voters.first(where: { $0 != id && members[$0]?.alive == true }) else { return }
        if case let .success(ready) = node.transferLeadership(to: target, now: now()) { execute(ready); rearmIfMoved() }
    }

    // MARK: Quorum-loss recovery

    /// What `recover` did: the new sole voter's term and the members it refills as learners.
    struct Recovery: Sendable, Equatable {
        var term: Term
        var voters: [NodeID]
        var learners: [NodeID]
    }

    /// Re-forms the voter set from this survivor when its quorum is lost for good
    /// (`POST /v1/raft/recover`, `meshctl raft recover --force`): refuses unless `force`,
    /// while membership shows a quorum of the voters alive, or while a leader is heard
    /// (`RaftNode.forceSoleVoter`). The alive members become learners, and the voter
    /// policy promotes them as they catch up.
    func recover(force: Bool) -> Result<Recovery, ConsensusError> {
        let voters = node.voters
        let reachable = voters.filter { $0 == id || members[$0]?.alive == true }
        if !voters.isEmpty, reachable.count >= node.quorum {
            return .failure(.refused("\(reachable.count) of \(voters.count) voters are reachable: a quorum; recovery is only for a voter set that lost its quorum for good"))
        }
        guard force else {
            return .failure(.refused("\(reachable.count) of \(voters.count) voters reachable; recovery makes this node the only voter and loses what only the lost voters held: repeat with force to do it"))
        }
        let learners = members.filter { $0.value.alive && $0.key != id }.map(\.key).sorted()
        switch node.forceSoleVoter(learners: learners, now: now()) {
        case let .failure(e): return .failure(.refused(e.description))
        case let .success(ready):
            logger.critical("voter set re-formed by operator recovery: this node is the only voter",
                            metadata: ["term": "\(node.term)", "lost_voters": "\(voters.filter { $0 != id })", "learners": "\(learners)"])
            execute(ready)
            rearmIfMoved()
            return .success(Recovery(term: node.term, voters: node.voters, learners: node.configuration.learners))
        }
    }

    /// Frames handed over by `post` and not handled yet.
    nonisolated let inboxDepth = Mutex(0)
    /// Bodies that did not decode, by reason (counted, then dropped; `handle`).
    nonisolated let undecodable = DecodeRejections()

    /// Called when the replica's applied index moved (the node reconciler's trigger).
    var onReplicaAdvanced: (@Sendable () -> Void)?
    var signalledIndex = LogIndex.zero
}
