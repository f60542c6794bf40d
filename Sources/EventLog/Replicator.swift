import MeshCore
import MeshWire

/// What the replicator asks its shell to do.
public enum ReplicationEffect: Sendable, Equatable {
    /// Send to a member (a datagram when it fits, else a stream frame).
    case send(ReplicationMessage, to: NodeID)
    /// Events newly stored here, in order: for followers (`events -f`) and measurements.
    case stored([Event])
    /// An event refused (bad signature, bad shape, store failure): count and log it.
    case rejected(origin: NodeID, seq: EventSeq, EventError)
}

/// Counters of replication work.
public struct ReplicationMetrics: Sendable, Equatable {
    public var appended: UInt64 = 0
    public var stored: UInt64 = 0
    public var duplicates: UInt64 = 0
    public var rejected: UInt64 = 0
    public var pushesSent: UInt64 = 0
    public var digestsSent: UInt64 = 0
    public var batchesSent: UInt64 = 0
    public var eventBytesSent: UInt64 = 0
    public init() {}
}

/// Replication of the event log as a state machine over an `EventStore`: eager push of
/// new events to a few members, and scuttlebutt anti-entropy (van Renesse et al.,
/// "Efficient Reconciliation and Flow Control for Anti-Entropy Protocols", 2008): a
/// digest of per-origin marks goes to a random member, which answers with what the
/// sender lacks and its own digest, so each side sends the other what it misses.
///
/// Pure: no clock, socket or global random source; the store is read and written
/// synchronously, as etcd's raft uses its `Storage`.
public struct Replicator<Store: EventStore> {
    public let settings: ReplicationSettings
    public private(set) var store: Store
    public private(set) var metrics = ReplicationMetrics()
    let key: SigningKeyPair?
    var clock = HybridClock()
    var random: SeededRandom
    /// Mirror of the store's marks.
    var marks: [NodeID: OriginMarks]
    /// Events ahead of a gap, per origin, keyed by seq.
    var pending: [NodeID: [UInt64: Event]] = [:]
    var pushQueue: [Event] = []
    var peers: [NodeID] = []
    var nextPushAt: MeshTime
    var nextAntiEntropyAt: MeshTime
    var catchUpPeer: NodeID?
    var out: [ReplicationEffect] = []
    /// The highest seq of our own origin any peer reported; our own appends wait until
    /// we hold it (a node restarted with an empty disk must not reuse its own seqs).
    var ownHighSeenAtPeers = EventSeq.zero
    /// False until this node knows its own history: its store had some, a peer's digest
    /// showed what peers hold of it, or the shell gave up waiting (`assumeOwnHistoryComplete`).
    public private(set) var ownHistoryKnown: Bool

    /// - Parameter key: this node's identity, to sign its own events (nil for a node that
    ///   only relays, as in some tests).
    public init(store: Store, key: SigningKeyPair?, settings: ReplicationSettings, random: SeededRandom,
                now: MeshTime) throws(EventError) {
        self.store = store; self.key = key; self.settings = settings; self.random = random
        let held = try store.marks()
        marks = held
        ownHistoryKnown = key.map { held[$0.nodeID] != nil } ?? true
        nextPushAt = now
        var r = random
        nextAntiEntropyAt = now + settings.antiEntropyInterval.scaled(by: r.nextUnit())
        self.random = r
    }

    /// This node's newest sequence number.
    public var localHigh: EventSeq { key.flatMap { marks[$0.nodeID]?.high } ?? .zero }

    /// Per-origin marks of what is held.
    public var heldMarks: [NodeID: OriginMarks] { marks }

    /// Called by the shell when no peer answered within its refill timeout (a lone node,
    /// or the first of a new mesh): this node's own history is what its store holds.
    public mutating func assumeOwnHistoryComplete() { ownHistoryKnown = true }

    /// The members to exchange with (alive members, from the membership layer).
    public mutating func setPeers(_ ids: [NodeID]) {
        peers = ids.filter { $0 != key?.nodeID }.sorted()
    }

    public var nextWakeup: MeshTime {
        pushQueue.isEmpty ? nextAntiEntropyAt : min(nextPushAt, nextAntiEntropyAt)
    }

    /// Appends an event of this node: signed, stored durably, then queued for push.
    /// Returns the event once it is stored (acknowledged), or the reason it was refused.
    public mutating func append(kind: String, attributes: [String: String], wallMilliseconds: UInt64,
                                now: MeshTime) throws(EventError) -> (Event, [ReplicationEffect]) {
        guard let key else { throw .invalid("this replicator has no identity to sign with") }
        guard ownHistoryKnown, localHigh >= ownHighSeenAtPeers else {
            throw .notReady("refilling this node's own history from its peers; retry shortly")
        }
        let event = try Event(signing: key, seq: localHigh.next, time: clock.tick(wallMilliseconds: wallMilliseconds),
                              kind: kind, attributes: attributes)
        try store.append([event], receivedAtMilliseconds: wallMilliseconds)
        record([event])
        metrics.appended += 1
        enqueuePush([event])
        out.append(.stored([event]))
        return (event, flush())
    }

    /// Handles a message from a member.
    public mutating func receive(_ message: ReplicationMessage, from peer: NodeID, now: MeshTime,
                                 wallMilliseconds: UInt64) -> [ReplicationEffect] {
        switch message {
        case let .push(events):
            // Relay what is new here, stored or held ahead of a gap: a node missing one
            // event must not stop the spread of the origin's later ones (found by the
            // event-log simulator: under a steady flood, gaps cut push coverage down to
            // what anti-entropy delivers).
            enqueuePush(accept(events, wallMilliseconds: wallMilliseconds, allowJump: false).new)
        case let .digest(entries, isReply):
            if let own = key?.nodeID {
                ownHighSeenAtPeers = max(ownHighSeenAtPeers, entries.first { $0.origin == own }?.marks.high ?? .zero)
                ownHistoryKnown = true
            }
            answer(entries, to: peer)
            if !isReply { send(.digest(digest(), isReply: true), to: peer) }
        case let .batch(events, more):
            _ = accept(events, wallMilliseconds: wallMilliseconds, allowJump: true)
            if more {
                catchUpPeer = peer
                nextAntiEntropyAt = min(nextAntiEntropyAt, now + settings.catchUpInterval)
            }
        }
        return flush()
    }

    /// Runs due pushes and anti-entropy.
    public mutating func tick(now: MeshTime) -> [ReplicationEffect] {
        if now >= nextPushAt, !pushQueue.isEmpty {
            pushRound()
            nextPushAt = now + settings.pushInterval
        }
        if now >= nextAntiEntropyAt {
            let peer = catchUpPeer ?? (peers.isEmpty ? nil : peers[Int(random.next() % UInt64(peers.count))])
            catchUpPeer = nil
            if let peer { send(.digest(digest(), isReply: false), to: peer) }
            nextAntiEntropyAt = now + settings.antiEntropyInterval.scaled(by: 0.75 + 0.5 * random.nextUnit())
        }
        return flush()
    }

    /// Applies retention to the store; the marks follow.
    public mutating func prune(olderThanMilliseconds: UInt64?, maxBytesPerOrigin: Int?) throws(EventError) -> Int {
        let n = try store.prune(olderThanMilliseconds: olderThanMilliseconds, maxBytesPerOrigin: maxBytesPerOrigin)
        marks = try store.marks()
        return n
    }

    // MARK: - Internals

    mutating func flush() -> [ReplicationEffect] {
        defer { out.removeAll(keepingCapacity: true) }
        return out
    }

    mutating func send(_ m: ReplicationMessage, to peer: NodeID) {
        switch m {
        case let .push(e): metrics.pushesSent += 1; metrics.eventBytesSent += UInt64(e.reduce(0) { $0 + $1.encodedSize })
        case let .batch(e, _): metrics.batchesSent += 1; metrics.eventBytesSent += UInt64(e.reduce(0) { $0 + $1.encodedSize })
        case .digest: metrics.digestsSent += 1
        }
        out.append(.send(m, to: peer))
    }

    func digest() -> [DigestEntry] {
        marks.keys.sorted().map { DigestEntry(origin: $0, marks: marks[$0]!) }
    }

    mutating func record(_ events: [Event]) {
        for e in events {
            var m = marks[e.origin] ?? OriginMarks(low: e.seq, high: EventSeq(e.seq.value - 1))
            m.high = e.seq
            marks[e.origin] = m
        }
    }

    /// Sends `peer` what it lacks according to its digest, within one batch's bytes.
    mutating func answer(_ entries: [DigestEntry], to peer: NodeID) {
        var theirs: [NodeID: OriginMarks] = [:]
        for e in entries { theirs[e.origin] = e.marks }
        var batch: [Event] = []
        var bytes = 0
        var more = false
        for origin in marks.keys.sorted() {
            let mine = marks[origin]!
            let theirHigh = theirs[origin]?.high ?? .zero
            guard mine.high > theirHigh else { continue }
            let budget = settings.maxBatchBytes - bytes
            if budget <= 0 || batch.count >= ReplicationLimits.maxBatchEvents { more = true; break }
            // Below our low-water mark nothing is left to send: resume from `low`.
            let after = EventSeq(max(theirHigh.value, mine.low.value - 1))
            let limit = ReplicationLimits.maxBatchEvents - batch.count
            guard let events = try? store.events(origin: origin, after: after, limit: limit, maxBytes: budget) else { continue }
            batch += events
            bytes += events.reduce(0) { $0 + $1.encodedSize }
            if let last = events.last, last.seq < mine.high { more = true }
        }
        if !batch.isEmpty { send(.batch(batch, more: more), to: peer) }
    }

    /// Verifies and stores what continues each origin's sequence; holds what is ahead of
    /// a gap; drops duplicates. Returns the events newly stored (`stored`, including those
    /// a gap that closed released), and the received events this node had not seen before,
    /// stored or held (`new`, in message order: what a push relays).
    @discardableResult
    mutating func accept(_ events: [Event], wallMilliseconds: UInt64, allowJump: Bool) -> (stored: [Event], new: [Event]) {
        var fresh: [Event] = []
        var new: [Event] = []
        for e in events {
            let m = marks[e.origin]
            if let m, e.seq <= m.high, m.high.value > 0 { metrics.duplicates += 1; continue }
            if settings.verifySignatures || e.origin == key?.nodeID {
                do { try e.verify() } catch {
                    metrics.rejected += 1
                    out.append(.rejected(origin: e.origin, seq: e.seq, error))
                    continue
                }
            }
            let expected = m.map { $0.high.next }
            // A push may only extend what we hold (or start an origin at 1); a batch may
            // also start an origin, or jump, at the sender's low-water mark.
            let continues = expected.map { e.seq == $0 } ?? (e.seq.value == 1)
            if continues || (allowJump && e.seq > (expected ?? .zero)) {
                if let m, e.seq > m.high.next {
                    // Every peer pruned past what we hold: restart this origin from their low.
                    try? store.forget(origin: e.origin)
                    marks[e.origin] = nil
                    pending[e.origin] = nil
                }
                let run = store(e, wallMilliseconds: wallMilliseconds)
                fresh += run
                if !run.isEmpty { new.append(e) }
            } else if pending[e.origin]?[e.seq.value] != nil {
                metrics.duplicates += 1
            } else if pending[e.origin, default: [:]].count < settings.maxPendingPerOrigin {
                pending[e.origin, default: [:]][e.seq.value] = e
                new.append(e)
            }
        }
        clock.observe(fresh.map(\.time).max() ?? HybridTimestamp(raw: 0), wallMilliseconds: wallMilliseconds)
        if !fresh.isEmpty { out.append(.stored(fresh)) }
        return (fresh, new)
    }

    /// Stores `e` and whatever it unblocks from the pending buffer.
    mutating func store(_ e: Event, wallMilliseconds: UInt64) -> [Event] {
        var run = [e]
        var next = e.seq.next.value
        while let p = pending[e.origin]?.removeValue(forKey: next) { run.append(p); next += 1 }
        if pending[e.origin]?.isEmpty == true { pending[e.origin] = nil }
        do {
            try store.append(run, receivedAtMilliseconds: wallMilliseconds)
        } catch {
            metrics.rejected += UInt64(run.count)
            out.append(.rejected(origin: e.origin, seq: e.seq, error))
            return []
        }
        record(run)
        metrics.stored += UInt64(run.count)
        return run
    }

    mutating func enqueuePush(_ events: [Event]) {
        let room = settings.maxPushQueue - pushQueue.count
        if room > 0 { pushQueue += events.prefix(room) }
    }

    /// Sends queued events to `pushFanout` random peers, packed into datagrams.
    mutating func pushRound() {
        defer { pushQueue.removeAll(keepingCapacity: true) }
        guard !peers.isEmpty else { return }
        var targets: [NodeID] = []
        for _ in 0 ..< min(settings.pushFanout, peers.count) * 4 where targets.count < min(settings.pushFanout, peers.count) {
            let p = peers[Int(random.next() % UInt64(peers.count))]
            if !targets.contains(p) { targets.append(p) }
        }
        var chunk: [Event] = [], bytes = 0
        var chunks: [[Event]] = []
        for e in pushQueue {
            let size = e.encodedSize
            if bytes + size > settings.maxPushBytes, !chunk.isEmpty { chunks.append(chunk); chunk = []; bytes = 0 }
            chunk.append(e); bytes += size
        }
        if !chunk.isEmpty { chunks.append(chunk) }
        for t in targets { for c in chunks { send(.push(c), to: t) } }
    }
}
