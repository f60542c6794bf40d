import Consensus
import EventLog
import NIOCore
import NIOPosix
import Synchronization
import Logging
import MeshCore
import MeshWire

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

/// A forwarded command and its answer (message kinds `commandForward`/`commandReply`).
struct ForwardedCommand: Sendable, Equatable {
    var requestID: UInt64
    /// Empty: a linearizable read barrier.
    var command: [UInt8]

    var encoded: [UInt8] { var w = ByteWriter(); w.write(requestID); w.writeBlob(command); return w.bytes }
    static func decode(_ b: [UInt8]) throws(WireError) -> ForwardedCommand {
        var r = ByteReader(b)
        let f = ForwardedCommand(requestID: try r.readUInt64(), command: try r.readBlob(limit: RaftLimits.maxCommandBytes))
        try r.expectEnd()
        return f
    }
}

struct CommandReply: Sendable, Equatable {
    var requestID: UInt64
    var index: UInt64
    /// Empty when it succeeded.
    var error: String

    var encoded: [UInt8] { var w = ByteWriter(); w.write(requestID); w.write(index); w.write(error); return w.bytes }
    static func decode(_ b: [UInt8]) throws(WireError) -> CommandReply {
        var r = ByteReader(b)
        let c = CommandReply(requestID: try r.readUInt64(), index: try r.readUInt64(), error: try r.readString(limit: 4096))
        try r.expectEnd()
        return c
    }
}

/// What `meshctl status` shows of consensus.
public struct ConsensusStatus: Sendable, Equatable {
    public var role: RaftRole
    public var leader: NodeID?
    public var term: Term
    public var commitIndex: LogIndex
    public var appliedIndex: LogIndex
    public var voters: [NodeID]
    public var learners: [NodeID]
    /// The control replica's lag behind `commitIndex` (the highest index this node knows
    /// committed) and how long ago it last applied anything.
    public var lagEntries: UInt64 = 0
    public var appliedAge: Duration = .zero
}

/// `controlStateRequest`: a member asks the leader for its control state (`controlStateReply`).
struct ControlStateReply: Sendable, Equatable {
    var requestID: UInt64
    /// The index the state is at (zero with an error).
    var index: UInt64
    var state: [UInt8]
    /// Empty when it succeeded.
    var error: String

    var encoded: [UInt8] { var w = ByteWriter(); w.write(requestID); w.write(index); w.writeBlob(state); w.write(error); return w.bytes }
    static func decode(_ b: [UInt8]) throws(WireError) -> ControlStateReply {
        var r = ByteReader(b)
        let c = ControlStateReply(requestID: try r.readUInt64(), index: try r.readUInt64(),
                                  state: try r.readBlob(limit: WireLimits.maxStreamFrameBytes), error: try r.readString(limit: 4096))
        try r.expectEnd()
        return c
    }
}

/// Raft's shell: persists before it sends (fsync in `RaftStorage.save`), applies committed
/// entries to the control state, forwards commands from followers to the leader and
/// answers them after commit and apply, and keeps the voter set healthy when it leads.
actor ConsensusService {
    /// Raft's storage fsyncs before anything is sent: this actor runs on its own thread,
    /// never on the cooperative pool that the membership runtime needs for its probes.
    private static let storageThread = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private nonisolated let storageLoop: any EventLoop = storageThread.next()
    nonisolated var unownedExecutor: UnownedSerialExecutor { storageLoop.executor.asUnownedSerialExecutor() }

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
    private(set) var stateFetches = 0
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
    /// The term and vote last written to storage: a leader's AppendEntries may only go
    /// out before its log write when they are already durable.
    var savedTerm = Term.zero
    var savedVote: NodeID?
    /// How old the stored commit index may grow before a save writes it. Raft keeps the
    /// commit index in memory; the stored one only lets `RaftStorage.load` tell a log that
    /// lost synced entries, and an older value is still a true lower bound there. Until
    /// then a save leaves it out: one page less in every follower's fsync, and no
    /// transaction at all when a leader's commit index moves (what it saves is measured in
    /// benchmarks/README.md, "Raft against etcd 3.4").
    static let commitStoreInterval = Duration.seconds(1)
    /// The commit index as last written to storage, and when.
    var storedCommit = LogIndex.zero
    var commitStoredAt = MeshTime.zero
    var commitStoreDue: Bool { now() >= commitStoredAt + Self.commitStoreInterval }
    func noteCommitStored(_ commit: LogIndex) { storedCommit = commit; commitStoredAt = now() }
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
        let seed = Sodium.randomBytes(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        savedTerm = hard.term; savedVote = hard.votedFor
        storedCommit = hard.commit; commitStoredAt = now()
        node = RaftNode(id: id, voters: [], settings: settings, random: SeededRandom(seed: seed), now: now(),
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
        let loop = storageLoop
        timer = storageLoop.scheduleTask(in: .nanoseconds(delay.nanoseconds)) { [weak self] in
            // Behind every frame already posted: after this thread was held (a long fsync),
            // the answers and heartbeats that arrived meanwhile are handled before the tick
            // judges the leader's quorum contact or a follower's election timer.
            loop.execute {
                // Run on `storageLoop`, which is this actor's executor.
                self?.assumeIsolated { $0.timerFired() }
            }
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

    /// The next batch to publish; signals again when more are left for the next one.
    func takeToPublish() -> [Applied] {
        let batch = Array(toPublish.prefix(Self.maxPublishBatch))
        toPublish.removeFirst(batch.count)
        if !toPublish.isEmpty { publishSignal.yield() }
        return batch
    }

    func published(_ count: Int) { unpublished -= count }

    /// Commands waiting in `admit` for the publisher to catch up.
    private(set) var admitting = 0

    /// Waits while the event log is too far behind (`maxUnpublishedApplied`); false when
    /// it stayed behind for `commandTimeout`.
    func admit() async -> Bool {
        guard unpublished >= maxUnpublishedApplied else { return true }
        admitting += 1
        defer { admitting -= 1 }
        let deadline = now() + Self.commandTimeout
        while unpublished >= maxUnpublishedApplied {
            guard now() < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }

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
        maintainVoters()
        rearmIfMoved()
        noteStatus()
    }

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

    // MARK: Commands

    /// Runs a command through the leader; returns the index it was applied at, after its
    /// commit and apply.
    nonisolated func submit(_ operation: ControlCommand.Operation, requester: String) async -> Result<LogIndex, ConsensusError> {
        if let why = ControlState.validate(operation) { return .failure(.refused(why)) }
        return await replicate(ControlCommand(operation, requester: requester, via: id).encoded)
    }

    /// Waits until this replica has applied everything the leader had committed when it
    /// was asked: the leader's read index (no log entry; thesis §6.4), then this replica's
    /// apply of it, bounded by `readWaitLimit` before the leader's state is fetched.
    /// On an agent that is not the leader the read skips this actor's thread when it can
    /// (`ForwardedReads`).
    nonisolated func readBarrier() async -> Result<LogIndex, ConsensusError> {
        guard let leader = forwardedReads.leader else { return await replicate([]) }
        return await withCheckedContinuation { (c: Caller) in
            let requestID = forwardedReads.add(c, leader: leader)
            let body = ForwardedCommand(requestID: requestID, command: []).encoded
            let transport = transport
            if !transport.post(kind: .commandForward, body: body, to: leader, channel: .datagram) {
                Task { await transport.send(kind: .commandForward, body: body, to: leader, channel: .datagram) }
            }
            storageLoop.scheduleTask(in: .nanoseconds(Self.commandTimeout.nanoseconds)) { [forwardedReads] in
                forwardedReads.take(requestID)?.caller.resume(returning: .failure(.timedOut(Self.commandTimeout)))
            }
        }
    }

    /// A leader's answer to a read sent by `readBarrier`, on the thread it arrived on: the
    /// caller resumes there when this replica has applied the read index, else waits on
    /// this actor. True when the reply was one of those reads.
    nonisolated func answerForwardedRead(_ frame: Frame) -> Bool {
        guard frame.kind == .commandReply, let r = try? CommandReply.decode(frame.body) else { return false }
        return answerForwardedRead(r)
    }

    /// The same for a decoded reply; false when it is not one of those reads.
    nonisolated func answerForwardedRead(_ r: CommandReply) -> Bool {
        guard ForwardedReads.owns(r.requestID) else { return false }
        guard let read = forwardedReads.take(r.requestID) else { return true }    // expired
        guard r.error.isEmpty else {
            read.caller.resume(returning: .failure(.refused(r.error)))
            return true
        }
        let index = LogIndex(r.index)
        if forwardedReads.appliedIndex >= index {
            read.caller.resume(returning: .success(index))
        } else {
            storageLoop.execute {
                // Run on `storageLoop`, which is this actor's executor.
                self.assumeIsolated { $0.answerOnceApplied(read.caller, index: index, isRead: true) }
            }
        }
        return true
    }

    /// Tells `forwardedReads` where reads go now and how far this replica has applied.
    func publishReadRoute() {
        let leader = stopped ? nil : leaderForCommands
        let route = leader == id ? nil : leader
        if forwardedReads.leader != route { forwardedReads.setLeader(route) }
        forwardedReads.setApplied(replica.appliedIndex)
    }

    typealias Caller = CheckedContinuation<Result<LogIndex, ConsensusError>, Never>

    /// Not isolated, on purpose: the caller's continuation is made on the caller's own
    /// executor and handed to this actor's thread, and the actor resumes it straight back
    /// there. Awaiting it inside the actor instead would bounce the reply between threads
    /// (resume on the caller's executor, back to the actor to return, then out again): two
    /// wake-ups more per write, on the path a client waits on.
    nonisolated func replicate(_ command: [UInt8]) async -> Result<LogIndex, ConsensusError> {
        await withCheckedContinuation { (c: Caller) in
            storageLoop.execute {
                // Run on `storageLoop`, which is this actor's executor.
                self.assumeIsolated { $0.begin(command, c) }
            }
        }
    }

    /// Proposes or forwards at once when a leader is known (and the publisher keeps up);
    /// else waits apart, polling, for up to `leaderWait` (and `commandTimeout`).
    func begin(_ command: [UInt8], _ caller: Caller) {
        guard !stopped else { caller.resume(returning: .failure(.refused("this agent is stopping"))); return }
        guard let leader = leaderForCommands, leader != id || unpublished < maxUnpublishedApplied else {
            Task { caller.resume(returning: await self.replicateWhenReady(command)) }
            return
        }
        if leader == id { propose(command, caller) } else { forward(command, to: leader, caller) }
    }

    func replicateWhenReady(_ command: [UInt8]) async -> Result<LogIndex, ConsensusError> {
        let deadline = now() + Self.leaderWait
        while leaderForCommands == nil, now() < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        guard let leader = leaderForCommands else { return .failure(noLeaderError) }
        if leader == id { guard await admit() else { return .failure(.timedOut(Self.commandTimeout)) } }
        return await withCheckedContinuation { (c: Caller) in
            if leader == id { propose(command, c) } else { forward(command, to: leader, c) }
        }
    }

    func forward(_ command: [UInt8], to leader: NodeID, _ caller: Caller) {
        let requestID = nextRequestID
        nextRequestID += 1
        let body = ForwardedCommand(requestID: requestID, command: command).encoded
        forwarded[requestID] = (caller, leader, command.isEmpty)
        if !transport.post(kind: .commandForward, body: body, to: leader, channel: .fitting(body.count)) {
            Task { await transport.send(kind: .commandForward, body: body, to: leader, channel: .fitting(body.count)) }
        }
        storageLoop.scheduleTask(in: .nanoseconds(Self.commandTimeout.nanoseconds)) { [weak self] in
            self?.assumeIsolated { $0.expireForward(requestID) }
        }
    }

    func propose(_ command: [UInt8], _ caller: Caller) {
        if command.isEmpty { return requestRead(.local(caller)) }
        guard waiters.count + batch.count < Self.maxPendingCommands else {
            return caller.resume(returning: .failure(.refused("too many commands waiting; retry")))
        }
        guard node.role == .leader else { return caller.resume(returning: .failure(noLeaderError)) }
        enqueue(command, .local(caller))
    }

    var noLeaderError: ConsensusError {
        let voters = node.voters.isEmpty ? advertisedVoters : node.voters
        let reachable = voters.filter { $0 == id || members[$0]?.alive == true }.count
        return .noLeader(reachable: reachable, voters: voters.count)
    }

    func expireForward(_ requestID: UInt64) {
        forwarded.removeValue(forKey: requestID)?.caller.resume(returning: .failure(.timedOut(Self.commandTimeout)))
    }

    /// Group commit: commands that arrive while the actor is busy (most often in an
    /// fsync) wait in `batch` and are proposed together by one `flushBatch`, so one log
    /// write and one AppendEntries per follower carry them all.
    func enqueue(_ command: [UInt8], _ waiter: Waiter) {
        batch.append((command, waiter))
        guard !flushScheduled else { return }
        flushScheduled = true
        // Queued on this actor's own loop, behind the frames and commands already posted
        // (they join the batch). Not `Task {}`: a new task starts on the global pool (or
        // the caller's task executor) and only then switches to this actor, which woke
        // two threads per write on the leader's path.
        storageLoop.execute {
            // Run on `storageLoop`, which is this actor's executor.
            self.assumeIsolated { $0.flushBatch() }
        }
    }

    func flushBatch() {
        flushScheduled = false
        let items = batch
        batch = []
        guard !items.isEmpty else { return }
        switch node.propose(batch: items.map(\.command), now: now()) {
        case let .failure(e):
            for item in items { fail(item.waiter, e) }
        case let .success((indexes, term, ready)):
            for (index, item) in zip(indexes, items) {
                switch item.waiter {
                case let .local(c): waiters[index, default: []].append((term, c))
                case let .remote(member, requestID): remoteWaiters[index, default: []].append((member, requestID, term))
                }
            }
            for item in items.dropFirst(indexes.count) {
                fail(item.waiter, .tooManyUncommitted(limit: node.settings.maxUncommittedEntries))
            }
            if !indexes.isEmpty {
                // A timer on this actor's own loop: no task, and no wake-up of the runtime's
                // timer thread, per write.
                storageLoop.scheduleTask(in: .nanoseconds(Self.commandTimeout.nanoseconds)) { [weak self] in
                    self?.assumeIsolated { service in
                        for index in indexes { service.expireLocal(index, term) }
                    }
                }
            }
            execute(ready)
            rearmIfMoved()
        }
    }

    func fail(_ waiter: Waiter, _ e: RaftError) {
        switch waiter {
        case let .local(c): c.resume(returning: .failure(e == .notLeader(leader: nil) ? noLeaderError : .refused(e.description)))
        case let .remote(member, requestID): reply(CommandReply(requestID: requestID, index: 0, error: e.description), to: member)
        }
    }

    func expireLocal(_ index: LogIndex, _ term: Term) {
        guard var list = waiters[index], let i = list.firstIndex(where: { $0.0 == term }) else { return }
        list.remove(at: i).1.resume(returning: .failure(.timedOut(Self.commandTimeout)))
        waiters[index] = list.isEmpty ? nil : list
    }

    // MARK: Messages

    func receive(kind: MessageKind, body: [UInt8], from member: NodeID) throws(WireError) {
        switch kind {
        case .commandForward:
            let f = try ForwardedCommand.decode(body)
            if f.command.isEmpty {
                // A read: the leader's read index, no log entry (thesis §6.4).
                guard node.role == .leader else {
                    return reply(CommandReply(requestID: f.requestID, index: 0, error: RaftError.notLeader(leader: node.leader).description), to: member)
                }
                return requestRead(.remote(member, requestID: f.requestID))
            }
            if node.role == .leader, waiters.count + batch.count < Self.maxPendingCommands {
                if unpublished < maxUnpublishedApplied {
                    enqueue(f.command, .remote(member, requestID: f.requestID))
                } else {
                    Task {          // waits apart, so the inbox keeps flowing meanwhile
                        if await self.admit() { self.enqueue(f.command, .remote(member, requestID: f.requestID)) } else {
                            self.reply(CommandReply(requestID: f.requestID, index: 0, error: ConsensusError.timedOut(Self.commandTimeout).description), to: member)
                        }
                    }
                }
            } else {
                let why = node.role == .leader ? "too many commands waiting; retry" : RaftError.notLeader(leader: node.leader).description
                reply(CommandReply(requestID: f.requestID, index: 0, error: why), to: member)
            }
        case .commandReply:
            let r = try CommandReply.decode(body)
            if answerForwardedRead(r) { return }
            guard let f = forwarded.removeValue(forKey: r.requestID) else { return }
            guard r.error.isEmpty else { return f.caller.resume(returning: .failure(.refused(r.error))) }
            answerOnceApplied(f.caller, index: LogIndex(r.index), isRead: f.isRead)
        case .controlStateRequest:
            var r = ByteReader(body)
            let requestID = try r.readUInt64()
            try r.expectEnd()
            guard node.role == .leader else {
                let why = RaftError.notLeader(leader: node.leader).description
                return post(Outbound(kind: .controlStateReply, body: ControlStateReply(requestID: requestID, index: 0, state: [], error: why).encoded, to: member))
            }
            requestRead(.state(member, requestID: requestID))
        case .controlStateReply:
            let r = try ControlStateReply.decode(body)
            guard stateFetch?.requestID == r.requestID else { return }
            var installed = false
            if r.error.isEmpty, let s = try? ControlState(snapshot: r.state) {
                installed = replica.install(s, at: LogIndex(r.index), now: now())
                if installed { stateFetches += 1; wakeApplyWaiters() }
            } else {
                logger.info("the leader did not send its control state", metadata: ["error": "\(r.error)"])
            }
            finishFetch(r.requestID, installed || replica.appliedIndex >= LogIndex(r.index) && r.error.isEmpty)
        default:
            let message = try RaftMessage.decode(kind: kind, body: body)
            execute(node.step(message, from: member, now: now()))
        }
    }

    /// Frames handed over by `post` and not handled yet.
    private nonisolated let inboxDepth = Mutex(0)

    /// Hands a verified frame to this actor's own thread, where it is handled in order
    /// with the frames posted before it: one hand-off between threads per frame, and no
    /// stop on the cooperative pool (a heartbeat and its answer are most of an idle
    /// leader's work). False, and nothing is done, when `AgentServices.inboxFrames` wait
    /// already; Raft's retries and heartbeats make up for a dropped frame.
    nonisolated func post(_ frame: Frame) -> Bool {
        if answerForwardedRead(frame) { return true }
        let admitted = inboxDepth.withLock { depth in
            guard depth < AgentServices.inboxFrames else { return false }
            depth += 1
            return true
        }
        guard admitted else { return false }
        storageLoop.execute {
            // Run on `storageLoop`, which is this actor's executor.
            self.assumeIsolated { service in
                service.inboxDepth.withLock { $0 -= 1 }
                try? service.receive(kind: frame.kind, body: frame.body, from: frame.sender)
                service.rearmIfMoved()
                service.noteStatus()
            }
        }
        return true
    }

    func reply(_ r: CommandReply, to member: NodeID) {
        post(Outbound(kind: .commandReply, body: r.encoded, to: member))
    }

    /// Persist (fsync), then send, then apply: the order Raft needs. One exception: a
    /// leader's AppendEntries go out before its own log write (thesis §10.2.1), so the
    /// followers' fsyncs run in parallel with the leader's. That is safe because the
    /// leader counts its own log towards commit only when it handles an answer, and this
    /// actor handles nothing before `save` below has returned (it blocks the actor).
    func execute(_ ready: RaftReady) {
        guard !ready.isEmpty, !stopped else { return }
        var after = ready.messages
        let termDurable = ready.hardState.map { $0.term == savedTerm && $0.votedFor == savedVote } ?? true
        if node.role == .leader, termDurable {
            let early = ready.messages.filter { if case .appendEntries = $0.message { true } else { false } }
            after = ready.messages.filter { if case .appendEntries = $0.message { false } else { true } }
            send(early)
        }
        // A ready that only moves the commit index needs nothing durable before it is acted
        // on (Raft keeps the commit index in memory): it is stored, if due, after the
        // answers, off the reply's path (`storeCommit`).
        let commitOnly = termDurable && ready.entries.isEmpty && ready.truncateFrom == nil && ready.snapshot == nil
        if !commitOnly {
            var toSave = ready
            // A hard state that moved only its commit index waits for `commitStoreInterval`.
            if termDurable, !commitStoreDue { toSave.hardState = nil }
            do { try timedSave(toSave) } catch {
                logger.critical("raft storage failed; not sending anything that depends on it", metadata: ["error": "\(error)"])
                return
            }
            if let h = toSave.hardState { noteCommitStored(h.commit) }
        }
        if let h = ready.hardState { savedTerm = h.term; savedVote = h.votedFor }
        send(after)
        if let s = ready.snapshot {
            // Installed from the leader: the state machine starts again from it (unless the
            // event log already brought the replica further).
            do { _ = replica.install(try ControlState(snapshot: s.data), at: s.index, now: now()) } catch {
                logger.critical("the leader's snapshot does not decode", metadata: ["index": "\(s.index)", "error": "\(error)"])
            }
        }
        for entry in ready.committed {
            var command: ControlCommand?
            if entry.kind == .command {
                command = entry.command.isEmpty ? nil : try? ControlCommand.decode(entry.command)
            }
            // An entry the event log applied first is a duplicate here: only a previous
            // leader's entries can be, and nobody waits on those.
            let result = replica.offer([CommittedEntry(entry)], now: now()).first { $0.0.index == entry.index }?.1 ?? .ok
            for (term, c) in waiters.removeValue(forKey: entry.index) ?? [] {
                c.resume(returning: term != entry.term ? .failure(.refused("leadership changed before the command committed; retry"))
                    : result == .ok ? .success(entry.index) : .failure(.refused(Self.text(result))))
            }
            for (member, requestID, term) in remoteWaiters.removeValue(forKey: entry.index) ?? [] {
                let error = term != entry.term ? "leadership changed before the command committed; retry" : Self.text(result)
                reply(CommandReply(requestID: requestID, index: entry.index.value, error: error), to: member)
            }
            if onApplied != nil { unpublished += 1; toPublish.append(Applied(entry: entry, command: command, result: result)) }
        }
        replica.note(commit: node.commitIndex, now: now())
        for r in ready.reads { answerRead(r) }
        wakeApplyWaiters()
        if commitOnly { storeCommit() }
        if !toPublish.isEmpty { publishSignal.yield() }
        compactIfDue()
        failForwardsOnLeaderChange()
    }

    /// Writes the commit index when it moved and the stored one is `commitStoreInterval`
    /// old, or now when `force` (at stop). `RaftStorage` does not fsync a save that only
    /// moves it.
    func storeCommit(force: Bool = false) {
        guard node.commitIndex > storedCommit, force || commitStoreDue else { return }
        do { try timedSave(RaftReady(hardState: node.hard)) } catch {
            logger.error("raft commit index not stored; it is kept in memory", metadata: ["error": "\(error)"])
            return
        }
        noteCommitStored(node.commitIndex)
    }

    func send(_ messages: [RaftReady.Outgoing]) {
        for m in messages { post(Outbound(kind: m.message.kind, body: m.message.encoded, to: m.to)) }
    }

    /// Straight to the transport when it takes messages without waiting (the agent's
    /// runtime: one hop to the socket's thread), else through the sending task.
    func post(_ m: Outbound) {
        guard !transport.post(kind: m.kind, body: m.body, to: m.to, channel: .fitting(m.body.count)) else { return }
        outbox.yield(m)
    }

    /// Commands forwarded to a leader that is no longer the leader will not be answered
    /// by it: their callers hear `leaderChanged` now (and may retry) instead of waiting
    /// out `commandTimeout`.
    func failForwardsOnLeaderChange() {
        guard node.leader != knownLeader else { return }
        knownLeader = node.leader
        guard let current = node.leader else { return }
        for (requestID, f) in forwarded where f.leader != current {
            forwarded.removeValue(forKey: requestID)
            f.caller.resume(returning: .failure(.leaderChanged))
        }
        for read in forwardedReads.takeAll(notSentTo: current) { read.caller.resume(returning: .failure(.leaderChanged)) }
    }

    /// Compacts the log into a snapshot of the applied state once the core says so.
    func compactIfDue() {
        // The snapshot must hold the state at Raft's applied index: not while the event log
        // has brought the replica further (Raft's apply catches up at once).
        guard node.shouldCompact, replica.appliedIndex == node.applied,
              let s = node.compact(through: node.applied, data: state.snapshot) else { return }
        do { try storage.saveSnapshot(s) } catch {
            logger.error("raft snapshot not saved; the log keeps its entries", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Reads and the control replica

    /// Asks the core for a read index (on the leader), in batches: reads that arrive while
    /// this actor is busy share one heartbeat round.
    func requestRead(_ waiter: ReadWaiter) {
        let id = nextReadID
        nextReadID += 1
        readWaiters[id] = waiter
        readBatch.append(id)
        guard readBatch.count == 1 else { return }
        storageLoop.execute {
            // Run on `storageLoop`, which is this actor's executor.
            self.assumeIsolated { $0.flushReads() }
        }
    }

    func flushReads() {
        let ids = readBatch
        readBatch = []
        switch node.readIndex(ids, now: now()) {
        case let .failure(e):
            for id in ids { answerRead(ReadState(id: id, index: nil), error: e.description) }
        case let .success(ready):
            execute(ready)
            rearmIfMoved()
        }
    }

    /// A read index confirmed (or refused) by the core: answered once this replica has
    /// applied it (at once on the leader, which applies as it commits).
    func answerRead(_ r: ReadState, error: String? = nil) {
        guard let waiter = readWaiters.removeValue(forKey: r.id) else { return }
        let why = error ?? "the leader changed before it confirmed the read; retry"
        switch waiter {
        case let .local(c):
            guard let index = r.index else { return c.resume(returning: .failure(.leaderChanged)) }
            answerOnceApplied(c, index: index, isRead: true)
        case let .remote(member, requestID):
            reply(CommandReply(requestID: requestID, index: r.index?.value ?? 0, error: r.index == nil ? why : ""), to: member)
        case let .state(member, requestID):
            guard let index = r.index else {
                return post(Outbound(kind: .controlStateReply, body: ControlStateReply(requestID: requestID, index: 0, state: [], error: why).encoded, to: member))
            }
            whenApplied(index, within: Self.readWaitLimit) { [self] _ in
                var answer = ControlStateReply(requestID: requestID, index: replica.appliedIndex.value, state: state.snapshot, error: "")
                if replica.appliedIndex < index { answer = ControlStateReply(requestID: requestID, index: 0, state: [], error: "the leader's replica lags its commit index; retry") }
                if answer.state.count > Self.maxControlStateBytes {
                    answer = ControlStateReply(requestID: requestID, index: 0, state: [],
                                               error: "the control state has \(answer.state.count) bytes; at most \(Self.maxControlStateBytes) are sent at once")
                }
                post(Outbound(kind: .controlStateReply, body: answer.encoded, to: member))
            }
        }
    }

    /// Resumes `caller` once this replica has applied `index` (a read index, or the index
    /// a forwarded write committed at: read-your-writes on the agent that took it). After
    /// `readWaitLimit` the leader's control state is fetched and installed instead; a read
    /// that still cannot be answered fails, a write (committed anyway) answers.
    func answerOnceApplied(_ caller: Caller, index: LogIndex, isRead: Bool) {
        replica.note(commit: index, now: now())
        whenApplied(index, within: Self.readWaitLimit) { [self] applied in
            if applied { return caller.resume(returning: .success(index)) }
            fetchState { [self] _ in
                if replica.appliedIndex >= index || !isRead { return caller.resume(returning: .success(index)) }
                caller.resume(returning: .failure(.refused("this agent's replica is at \(replica.appliedIndex), behind the leader's \(index), and the leader's state could not be fetched")))
            }
        }
    }

    /// Calls `then(true)` once the replica has applied `index`, or `then(false)` after `limit`.
    func whenApplied(_ index: LogIndex, within limit: Duration, _ then: @escaping (Bool) -> Void) {
        guard replica.appliedIndex < index else { return then(true) }
        let id = nextApplyWaiterID
        nextApplyWaiterID += 1
        applyWaiters.append((index, id, then))
        storageLoop.scheduleTask(in: .nanoseconds(limit.nanoseconds)) { [weak self] in
            self?.assumeIsolated { service in
                guard let i = service.applyWaiters.firstIndex(where: { $0.id == id }) else { return }
                service.applyWaiters.remove(at: i).then(false)
            }
        }
    }

    /// Called when the replica's applied index moved (the node reconciler's trigger).
    var onReplicaAdvanced: (@Sendable () -> Void)?
    var signalledIndex = LogIndex.zero
    func setOnReplicaAdvanced(_ f: @escaping @Sendable () -> Void) { onReplicaAdvanced = f }

    func wakeApplyWaiters() {
        publishReadRoute()
        // Every path that moves the replica (Raft's apply, the leader's events, a state
        // install) ends here: the bans it holds now are the ones every frame check uses.
        if let bans, replica.state.banned.count != bans.count || !replica.state.banned.keys.allSatisfy(bans.contains) {
            bans.set(Set(replica.state.banned.keys))
        }
        if replica.appliedIndex != signalledIndex {
            signalledIndex = replica.appliedIndex
            onReplicaAdvanced?()
        }
        guard applyWaiters.contains(where: { $0.index <= replica.appliedIndex }) else { return }
        let done = applyWaiters.filter { $0.index <= replica.appliedIndex }
        applyWaiters.removeAll { $0.index <= replica.appliedIndex }
        for w in done { w.then(true) }
    }

    /// Asks the leader for its control state (`controlStateRequest`; the leader confirms a
    /// read index first) and installs it; one request in flight, shared by whoever asks
    /// meanwhile. `done(true)` when a state was installed or this replica is already there.
    func fetchState(_ done: @escaping (Bool) -> Void) {
        if stateFetch != nil { stateFetch!.done.append(done); return }
        guard let leader = leaderForCommands, leader != id else { return done(false) }
        let requestID = nextRequestID
        nextRequestID += 1
        stateFetch = (requestID, [done])
        var w = ByteWriter()
        w.write(requestID)
        post(Outbound(kind: .controlStateRequest, body: w.bytes, to: leader))
        storageLoop.scheduleTask(in: .nanoseconds(Self.commandTimeout.nanoseconds)) { [weak self] in
            self?.assumeIsolated { $0.finishFetch(requestID, false) }
        }
    }

    func finishFetch(_ requestID: UInt64, _ ok: Bool) {
        guard let f = stateFetch, f.requestID == requestID else { return }
        stateFetch = nil
        for d in f.done { d(ok) }
    }

    /// `control.*` events received from peers, for the replica (any order, duplicates
    /// welcome). Handed to this actor's thread like a frame.
    nonisolated func offerPublished(_ events: [Event]) {
        let entries = events.compactMap(AgentEvents.committedEntry)
        guard !entries.isEmpty else { return }
        storageLoop.execute {
            // Run on `storageLoop`, which is this actor's executor.
            self.assumeIsolated { service in
                _ = service.replica.offer(entries, now: service.now())
                service.wakeApplyWaiters()
            }
        }
    }

    /// The same, awaited (the start-up replay of the stored events).
    func offerStored(_ events: [Event]) {
        _ = replica.offer(events.compactMap(AgentEvents.committedEntry), now: now())
        wakeApplyWaiters()
    }

    static func text(_ r: ControlResult) -> String {
        switch r {
        case .ok: ""
        case let .refused(why): why
        }
    }
}
