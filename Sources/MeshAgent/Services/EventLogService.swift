import NIOCore
import NIOPosix
import EventLog
import Logging
import MeshCore
import MeshWire
import Storage

/// The event log's shell: owns the SQLite store and the replication state machine, runs
/// its timers, and hands its messages to the mesh transport. One actor, so the core needs
/// no lock.
actor EventLogService: ThreadPinnedActor {
    /// SQLite commits block on fsync: this actor runs on its own thread, never on the
    /// cooperative pool that the membership runtime needs for its probes.
    private static let storageThread = DedicatedThread()
    nonisolated var thread: DedicatedThread { Self.storageThread }
    nonisolated var unownedExecutor: UnownedSerialExecutor { thread.executor }

    /// How long a new node waits for a peer to tell it about its own history before it
    /// assumes it has none (a lone node, or the first of a new mesh).
    static let ownHistoryRefillTimeout = Duration.seconds(3)
    /// Longest sleep of the timer loop, so peers and retention are revisited regularly.
    static let maxTimerSleep = Duration.seconds(1)
    /// Live followers (`events -f`) at most; each buffers at most `followerBuffer` events.
    static let maxFollowers = 64
    static let followerBuffer = 1024

    /// Retention, applied every `retentionInterval`: per origin, events older than
    /// `retentionMaxAge` go, then the oldest until the origin holds at most
    /// `retentionMaxBytesPerOrigin` encoded bytes; the newest event of an origin always
    /// stays. The origin's low-water mark (`origins.low`) rises to the oldest seq kept; a
    /// peer that asks for less resumes from it (README "Retention").
    static let retentionMaxAge = Duration.seconds(30 * 24 * 3600)
    static let retentionMaxBytesPerOrigin = 64 << 20
    static let retentionInterval = Duration.seconds(60)
    /// How often the agent records `agent.frames_rejected` (only when frames were refused
    /// since the previous one).
    static let rejectedFramesSummaryInterval = Duration.seconds(60)

    let transport: any MeshTransport
    let logger: Logger
    let now: @Sendable () -> MeshTime
    let wallMilliseconds: @Sendable () -> UInt64
    var replicator: Replicator<SQLiteEventStore>
    var followers: [Int: (EventQuery, AsyncStream<Event>.Continuation)] = [:]
    var nextFollowerID = 0
    var timer: Task<Void, Never>?
    let startedAt: MeshTime
    var nextRetentionAt: MeshTime
    var nextRejectionSummaryAt: MeshTime
    /// Where refused-frame counts come from (the runtime), and the counts last summarised.
    var rejectionSource: (@Sendable () async -> [String: UInt64])?
    var rejectionsSummarised: [String: UInt64] = [:]
    /// Events removed by retention since the start.
    private(set) var pruned = 0
    /// The mark (`agent_marks`) of the highest Raft index of a `control.*` event held.
    static let controlPublishedMark = "control.published"
    /// The highest Raft index of a `control.*` event this store holds, this node's own or
    /// received; kept in the transaction that stores such events (`ControlPublisher`).
    private(set) var controlPublished: UInt64
    /// Batched appends whose commit failed, after which the replicator was rebuilt from the store.
    private(set) var failedBatches = 0
    let identity: SigningKeyPair
    let settings: ReplicationSettings

    init(storePath: String, identity: SigningKeyPair, settings: ReplicationSettings, transport: any MeshTransport,
         now: @escaping @Sendable () -> MeshTime, wallMilliseconds: @escaping @Sendable () -> UInt64,
         logger: Logger) throws(EventError) {
        self.transport = transport; self.logger = logger; self.now = now; self.wallMilliseconds = wallMilliseconds
        self.identity = identity; self.settings = settings
        let store = try SQLiteEventStore(path: storePath)
        controlPublished = try store.agentMark(Self.controlPublishedMark) ?? 0
        replicator = try Replicator(store: store, key: identity, settings: settings,
                                    random: .fromSystemEntropy(), now: now())
        startedAt = now()
        nextRetentionAt = startedAt + Self.retentionInterval
        nextRejectionSummaryAt = startedAt + Self.rejectedFramesSummaryInterval
    }

    /// Records a summary of the frames `source` counts as refused every
    /// `rejectedFramesSummaryInterval`.
    func summariseRejectedFrames(from source: @escaping @Sendable () async -> [String: UInt64]) async {
        rejectionSource = source
        rejectionsSummarised = await source()
    }

    /// Starts the timer loop.
    func start() {
        timer = Task { [weak self] in
            while !Task.isCancelled {
                guard let self else { return }
                let sleep = await self.runTimers()
                try? await Task.sleep(for: sleep)
            }
        }
    }

    func stop() {
        timer?.cancel()
        for (_, f) in followers { f.1.finish() }
        followers.removeAll()
    }

    /// Runs due timers; returns how long to sleep.
    func runTimers() async -> Duration {
        let t = now()
        if !replicator.ownHistoryKnown, t - startedAt >= Self.ownHistoryRefillTimeout {
            replicator.assumeOwnHistoryComplete()
        }
        await execute(replicator.tick(now: t))
        if t >= nextRetentionAt {
            nextRetentionAt = t + Self.retentionInterval
            applyRetention()
        }
        if t >= nextRejectionSummaryAt, let source = rejectionSource {
            nextRejectionSummaryAt = t + Self.rejectedFramesSummaryInterval
            let current = await source()
            if let (kind, attributes) = AgentEvents.rejectedFrames(now: current, previous: rejectionsSummarised,
                                                                   intervalSeconds: Int(Self.rejectedFramesSummaryInterval.components.seconds)) {
                do { _ = try await append(kind: kind, attributes: attributes) } catch {
                    logger.warning("cannot record the rejected-frames summary", metadata: ["error": "\(error)"])
                }
            }
            rejectionsSummarised = current
        }
        return min(max(replicator.nextWakeup - now(), .milliseconds(1)), Self.maxTimerSleep)
    }

    func assumeOwnHistoryComplete() { replicator.assumeOwnHistoryComplete() }

    /// Prunes by age and size per origin (the named retention defaults).
    func applyRetention() {
        let maxAgeMilliseconds = UInt64(Self.retentionMaxAge.components.seconds) * 1000
        let wall = wallMilliseconds()
        do {
            pruned += try replicator.prune(olderThanMilliseconds: wall > maxAgeMilliseconds ? wall - maxAgeMilliseconds : nil,
                                           maxBytesPerOrigin: Self.retentionMaxBytesPerOrigin)
        } catch {
            logger.warning("event retention failed", metadata: ["error": "\(error)"])
        }
    }

    /// The live members to replicate with.
    func setPeers(_ peers: [NodeID]) { self.peers = peers; replicator.setPeers(peers) }
    var peers: [NodeID] = []

    /// A replication message from `member`. Events of other origins are stored without an
    /// fsync of their own (`SQLiteEventStore.unsynced`: anti-entropy fetches again what a
    /// power cut takes), this node's own history with one.
    /// Handles the frames of the agent's event inbox in order, on this actor's own thread:
    /// the stream resumes this loop there, with no stop on the cooperative pool.
    func drain(_ frames: AsyncStream<Frame>) async {
        for await f in frames { await handle(f) }
    }

    /// Bodies that did not decode, by reason (counted, then dropped).
    nonisolated let undecodable = DecodeRejections()

    /// Handles one verified frame of the inbox; a body that does not decode is counted in
    /// `undecodable` and dropped.
    func handle(_ frame: Frame) async {
        do { try await receive(kind: frame.kind, body: frame.body, from: frame.sender) } catch {
            undecodable.record(error.reason)
            logger.debug("undecodable event-log message", metadata: ["from": "\(frame.sender)", "error": "\(error)"])
        }
    }

    func receive(kind: MessageKind, body: [UInt8], from member: NodeID) async throws(WireError) {
        let message = try ReplicationMessage.decode(kind: kind, body: body)
        let store = replicator.store
        let carriesOwn: Bool = switch message {
        case let .push(events), let .batch(events, _): events.contains { $0.origin == identity.nodeID }
        case .digest, .ihave, .graft, .prune, .delta: false    // carry no events (listed, so a new kind must choose)
        }
        var effects: [ReplicationEffect] = []
        do {
            if carriesOwn {
                effects = handle(message, from: member, store: store)
            } else {
                try store.unsynced { () throws(EventError) in effects = handle(message, from: member, store: store) }
            }
        } catch {
            logger.warning("cannot switch the event log's fsync mode", metadata: ["error": "\(error)"])
        }
        await execute(effects)
    }

    private func handle(_ message: ReplicationMessage, from member: NodeID, store: SQLiteEventStore) -> [ReplicationEffect] {
        let effects = replicator.receive(message, from: member, now: now(), wallMilliseconds: wallMilliseconds())
        noteControl(effects, in: store)
        return effects
    }

    /// Told of every `control.*` event received from a peer, once stored: the agent's
    /// control replica applies them (`ConsensusService.offerPublished`).
    var onControl: (@Sendable ([Event]) -> Void)?
    func setOnControl(_ f: @escaping @Sendable ([Event]) -> Void) { onControl = f }

    /// Most events read per query while `replayControl` replays the stored ones.
    static let controlReplayPage = 10_000

    /// Hands every stored `control.*` event to `deliver`, oldest first, a page at a time (at
    /// start: the control replica is rebuilt from what the event log holds). What retention
    /// pruned is not there; the replica then repairs from a voter.
    func replayControl(_ deliver: @Sendable ([Event]) async -> Void) async throws(EventError) -> Int {
        var q = EventQuery(kindPrefix: "control.", limit: Self.controlReplayPage)
        var seen: Set<String> = []
        var total = 0
        while true {
            let page = try replicator.store.query(q).filter { !seen.contains("\($0.origin.hex)/\($0.seq.value)") }
            guard !page.isEmpty else { return total }
            total += page.count
            await deliver(page)
            // The next page starts at the last page's millisecond; what it repeats is skipped.
            let last = page.last!.time.milliseconds
            let atLast = page.filter { $0.time.milliseconds == last }.map { "\($0.origin.hex)/\($0.seq.value)" }
            if q.sinceMilliseconds == last { seen.formUnion(atLast) } else { seen = Set(atLast) }
            q.sinceMilliseconds = last
        }
    }

    /// Raises `controlPublished` to the highest `index` of the `control.*` events just
    /// stored (a mark lower than the truth only makes a new leader publish some again).
    func noteControl(_ effects: [ReplicationEffect], in store: SQLiteEventStore) {
        var highest = controlPublished
        for case let .stored(events) in effects {
            for e in events where e.kind.hasPrefix("control.") {
                if let i = e.attributes["index"].flatMap(UInt64.init) { highest = max(highest, i) }
            }
        }
        guard highest > controlPublished else { return }
        do { try store.setAgentMark(Self.controlPublishedMark, highest) } catch {
            logger.warning("cannot record the highest control index received", metadata: ["error": "\(error)"])
        }
        controlPublished = highest
    }

    /// Appends `control.*` events of this node for applied Raft entries through `index`,
    /// all in one transaction (one fsync) that also raises `controlPublished` to `index`;
    /// returns them once durable. Waits while this node refills its own history, as `append`.
    func appendControl(_ items: [(kind: String, attributes: [String: String])], through index: UInt64) async throws(EventError) -> [Event] {
        let deadline = now() + Self.ownHistoryRefillTimeout * 2
        let store = replicator.store
        while true {
            var events: [Event] = [], effects: [ReplicationEffect] = []
            do {
                try store.batch { () throws(EventError) in
                    for (kind, attributes) in items {
                        let (event, more) = try replicator.append(kind: kind, attributes: attributes,
                                                                  wallMilliseconds: wallMilliseconds(), now: now())
                        events.append(event); effects += more
                    }
                    if index > controlPublished { try store.setAgentMark(Self.controlPublishedMark, index) }
                }
            } catch .notReady(let why) where events.isEmpty {
                guard now() < deadline else { throw .notReady(why) }
                try? await Task.sleep(for: .milliseconds(50))
                _ = await runTimers()
                continue
            } catch {
                // Rolled back, but the replicator counted the appends: start it again from the store.
                failedBatches += 1
                rebuildReplicator(store)
                throw error
            }
            controlPublished = max(controlPublished, index)
            await execute(effects)
            return events
        }
    }

    /// A new replicator over what `store` holds (after a batch that did not commit).
    func rebuildReplicator(_ store: SQLiteEventStore) {
        do {
            replicator = try Replicator(store: store, key: identity, settings: settings, random: .fromSystemEntropy(), now: now())
            replicator.setPeers(peers)
        } catch {
            logger.error("cannot reload the event log's marks", metadata: ["error": "\(error)"])
        }
    }

    /// Appends an event of this node; returns it once stored durably. While a new node is
    /// still refilling its own history, waits for it (bounded by the refill timeout).
    func append(kind: String, attributes: [String: String]) async throws(EventError) -> Event {
        let deadline = now() + Self.ownHistoryRefillTimeout * 2
        while true {
            do {
                let (event, effects) = try replicator.append(kind: kind, attributes: attributes,
                                                             wallMilliseconds: wallMilliseconds(), now: now())
                await execute(effects)
                return event
            } catch .notReady(let why) {
                guard now() < deadline else { throw .notReady(why) }
                try? await Task.sleep(for: .milliseconds(50))
                _ = await runTimers()
            }
        }
    }

    func query(_ q: EventQuery) throws(EventError) -> [Event] { try replicator.store.query(q) }

    var marks: [NodeID: OriginMarks] { replicator.heldMarks }
    var metrics: ReplicationMetrics { replicator.metrics }
    /// The `meshd_event_*` families of `/metrics`.
    func metricsText() -> String { AgentMetrics.renderEventLog(replicator.metrics, held: replicator.heldMarks.count, pruned: pruned) }

    /// New events matching `query` as they are stored (`meshctl events -f`).
    func follow(_ query: EventQuery) throws(EventError) -> AsyncStream<Event> {
        guard followers.count < Self.maxFollowers else { throw .tooLarge("\(Self.maxFollowers) followers already") }
        let id = nextFollowerID
        nextFollowerID += 1
        let (stream, continuation) = AsyncStream<Event>.makeStream(bufferingPolicy: .bufferingNewest(Self.followerBuffer))
        continuation.onTermination = { [weak self] _ in Task { await self?.unfollow(id) } }
        followers[id] = (query, continuation)
        return stream
    }

    func unfollow(_ id: Int) { followers.removeValue(forKey: id) }

    func execute(_ effects: [ReplicationEffect]) async {
        for effect in effects {
            switch effect {
            case let .send(message, to):
                let body = message.encoded
                let channel = FrameChannel.fitting(body.count)
                if !transport.post(kind: message.kind, body: body, to: to, channel: channel) {
                    await transport.send(kind: message.kind, body: body, to: to, channel: channel)
                }
            case let .stored(events):
                if let onControl {
                    let control = events.filter { $0.kind.hasPrefix("control.") && $0.origin != identity.nodeID }
                    if !control.isEmpty { onControl(control) }
                }
                for (_, (q, c)) in followers {
                    for e in events where Self.matches(e, q) { c.yield(e) }
                }
            case let .rejected(origin, seq, error):
                logger.warning("event refused", metadata: ["origin": "\(origin)", "seq": "\(seq)", "error": "\(error)"])
            }
        }
    }

    static func matches(_ e: Event, _ q: EventQuery) -> Bool {
        (q.sinceMilliseconds.map { e.time.milliseconds >= $0 } ?? true) && (q.kindPrefix.map { e.kind.hasPrefix($0) } ?? true)
            && (q.origin.map { e.origin == $0 } ?? true)
    }
}
