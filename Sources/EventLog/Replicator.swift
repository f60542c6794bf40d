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
    public var deltasSent: UInt64 = 0
    public var batchesSent: UInt64 = 0
    public var eventBytesSent: UInt64 = 0
    /// Broadcast tree: (link, origin) pairs pruned (a push that brought only duplicates of
    /// an origin), grafts
    /// sent and answered, ids announced lazily.
    public var prunesSent: UInt64 = 0
    public var graftsSent: UInt64 = 0
    public var graftedEventsSent: UInt64 = 0
    public var idsAnnounced: UInt64 = 0
    /// Ids not announced because the lazy queue was full.
    public var lazyQueueDropped: UInt64 = 0
    /// Announcements ignored because the missing table was full.
    public var announcementsIgnored: UInt64 = 0
    /// Origins left out of a batch because an earlier batch to the same peer, still
    /// possibly on its way, carried them (`batchInFlightHold`).
    public var batchOriginsInFlightSkipped: UInt64 = 0
    /// Missing ids given up after every announcer was grafted in vain (anti-entropy covers them).
    public var graftsAbandoned: UInt64 = 0
    /// Times a node with no eager link left picked `pushFanout` new ones.
    public var eagerRefills: UInt64 = 0
    /// Events not queued for push because the push queue was full.
    public var pushQueueDropped: UInt64 = 0
    public init() {}
}

/// Replication of the event log as a state machine over an `EventStore`.
///
/// - **Broadcast tree** (Plumtree: Leitão, Pereira, Rodrigues, "Epidemic Broadcast Trees",
///   SRDS 2007, with per-source trees). A new event travels whole along *eager* links,
///   which start as `pushFanout` random members per node (symmetric: a push received
///   makes its sender a link too). Pruning is per origin: a push that brings only
///   duplicates of an origin is answered with `prune` naming it, and the sender stops
///   pushing that origin on that link, so each origin's events settle on their own
///   first-arrival spanning tree over the same few links (a tree shared by all origins
///   would be cut in several places by their duplicates). Ids of new events go lazily
///   (`ihave`) every `lazyInterval` to `lazyFanout` random members; an announced id still
///   missing `graftTimeout` later is asked for (`graft`) from its announcer, which makes it
///   a link and lifts the prune: the tree repairs itself after a member dies, and finds
///   shorter paths, and joins the two sides after a partition heals.
/// - **Anti-entropy** (scuttlebutt: van Renesse et al., "Efficient Reconciliation and Flow
///   Control for Anti-Entropy Protocols", 2008). Each round sends a digest to one member,
///   who answers with what the sender lacks and its own digest. Digests are incremental
///   (`delta`) with eager peers: per tracked peer the replicator keeps what that peer is
///   known to hold (`known`) and what it knows this node holds (`claimed`), both raised by
///   the events they exchange, and a delta carries only the origins where this node's
///   mark differs from `claimed` or is held back by a gap. One round in `fullDigestEvery`,
///   and the first rounds after members appear, send the full digest to a random member:
///   the safety net that corrects any wrong belief.
///
/// Pure: no clock, socket or global random source; the store is read and written
/// synchronously, as etcd's raft uses its `Storage`.
public struct Replicator<Store: EventStore> {
    public let settings: ReplicationSettings
    public private(set) var store: Store
    public internal(set) var metrics = ReplicationMetrics()
    let key: SigningKeyPair?
    /// `key?.nodeID`, kept: deriving it from the key's bytes on every use was a hot spot.
    let ownID: NodeID?
    var clock = HybridClock()
    var random: SeededRandom
    /// Mirror of the store's marks (`slotLow`/`slotHigh` per held origin), as a dictionary.
    var marks: [NodeID: OriginMarks] {
        var out: [NodeID: OriginMarks] = [:]
        for s in slotHigh.indices where slotHigh[s] > 0 {
            out[slotIDs[s]] = OriginMarks(low: EventSeq(slotLow[s]), high: EventSeq(slotHigh[s]))
        }
        return out
    }
    /// A dense index per origin ever held (a slot), for the per-peer tables.
    var slotOf = OriginSlots()
    var slotIDs: [NodeID] = []
    /// The store's high mark of the origin in each slot, or 0 (none held): kept by slot, not
    /// in a dictionary keyed by id, since it changes with every event stored.
    var slotHigh: [UInt64] = []
    /// The store's low-water mark per slot (meaningful where `slotHigh` is not 0).
    var slotLow: [UInt64] = []
    /// Every slot, in the order of their origins' ids (digests and answers go in id order;
    /// sorting a thousand ids for every digest cost more than the rest of it).
    var slotsInIDOrder: [Int] = []
    /// The slot of this node's own origin, once it has one.
    var ownSlot: Int?
    /// When this node last pruned a link for each origin (ns; `Int64.min` never).
    var lastPruneAt: [Int64] = []
    /// Origin tag (`EventID.tag`) → slot; -1 when two held origins share the tag.
    var tagSlot: [UInt32: Int] = [:]
    /// Events ahead of a gap, per origin (by slot, empty when none), keyed by seq.
    var pending: [[UInt64: Event]] = []
    /// New events to push along the tree, with their origin's slot and the member each
    /// came from (not pushed back).
    var pushQueue: [(event: Event, slot: Int, from: NodeID?)] = []
    /// New ids to announce lazily, with the member each came from.
    var lazyQueue: [(id: EventID, from: NodeID?)] = []
    /// When the oldest id in `lazyQueue` was queued (`.max` while it is empty).
    var lazySince = MeshTime(nanoseconds: .max)
    /// Per eager link, events distributed to it and held until they fill a push
    /// (`pushFillBytes`) or the oldest waited `maxPushHold`.
    var held: [NodeID: HeldPush] = [:]
    /// The earliest `maxPushHold` deadline of `held` (`.max` when nothing is held).
    var nextHeldPushAt = MeshTime(nanoseconds: .max)
    var peers: [NodeID] = []
    var peerSet: Set<NodeID> = []
    /// The links (symmetric: a member this node picked, or one that pushed or grafted to
    /// it). Each origin's events go to every link not pruned for that origin.
    var eager: [NodeID] = []
    /// Per open link (one this node picked, or one whose peer picked this node and said so
    /// with an empty GRAFT), the origins (slots) it asked this node not to push (PRUNE); a
    /// GRAFT for an origin lifts it.
    var pruned: [NodeID: Set<Int>] = [:]
    /// Per closed link (one that came to this node: a push or a graft received, or a graft
    /// sent), the only origins pushed on it: those the peer grafted. A link that appears
    /// later would otherwise carry every origin once, only to be pruned origin by origin.
    var allowed: [NodeID: Set<Int>] = [:]
    /// Announced ids this node lacks.
    var missing: [EventID: Missing] = [:]
    var nextPushAt: MeshTime
    var nextLazyAt: MeshTime
    var nextGraftAt = MeshTime(nanoseconds: .max)
    var nextAntiEntropyAt: MeshTime
    var antiEntropyRounds = 0
    /// The current anti-entropy interval (backs off while nothing needs repair).
    var antiEntropyPeriod: Duration
    /// Something was repaired (a batch brought events, a graft went out) or members
    /// changed since the last round.
    var repairedSinceLastRound = true
    var catchUpPeer: NodeID?
    /// Members that appeared since the last `setPeers`, owed a full digest.
    var newPeers: [NodeID] = []
    /// Per-peer knowledge for incremental digests.
    var tracked: [NodeID: PeerKnowledge] = [:]
    var out: [ReplicationEffect] = []
    /// The highest seq of our own origin any peer reported; our own appends wait until
    /// we hold it (a node restarted with an empty disk must not reuse its own seqs).
    var ownHighSeenAtPeers = EventSeq.zero
    /// False until this node knows its own history: its store had some, a peer's digest
    /// showed what peers hold of it, or the shell gave up waiting (`assumeOwnHistoryComplete`).
    public private(set) var ownHistoryKnown: Bool

    // The per-peer and per-id records are top-level types (`ReplicatorMissing`, ...):
    // nested in this generic type they were generic too, and every dictionary of them ran
    // unspecialized, instantiating metadata at run time (7 % of a simulated flood).
    typealias Missing = ReplicatorMissing
    typealias HeldPush = ReplicatorHeldPush
    typealias PeerKnowledge = ReplicatorPeerKnowledge

    /// - Parameter key: this node's identity, to sign its own events (nil for a node that
    ///   only relays, as in some tests).
    public init(store: Store, key: SigningKeyPair?, settings: ReplicationSettings, random: SeededRandom,
                now: MeshTime) throws(EventError) {
        self.store = store; self.key = key; self.ownID = key?.nodeID; self.settings = settings; self.random = random
        let held = try store.marks()
        ownHistoryKnown = key.map { held[$0.nodeID] != nil } ?? true
        nextPushAt = now
        nextLazyAt = now
        antiEntropyPeriod = settings.antiEntropyInterval
        var r = random
        nextAntiEntropyAt = now + settings.antiEntropyInterval.scaled(by: r.nextUnit())
        self.random = r
        for (id, m) in held.sorted(by: { $0.key < $1.key }) {
            let s = slot(id)
            slotHigh[s] = m.high.value; slotLow[s] = m.low.value
        }
    }

    /// This node's newest sequence number.
    public var localHigh: EventSeq { ownSlot.map { EventSeq(slotHigh[$0]) } ?? .zero }

    /// Per-origin marks of what is held.
    public var heldMarks: [NodeID: OriginMarks] { marks }

    /// The members this node pushes new events to (its links of the broadcast tree).
    public var eagerPeers: [NodeID] { eager }

    /// Called by the shell when no peer answered within its refill timeout (a lone node,
    /// or the first of a new mesh): this node's own history is what its store holds.
    public mutating func assumeOwnHistoryComplete() { ownHistoryKnown = true }

    /// The members to exchange with (alive members, from the membership layer). Eager
    /// links to members that left are dropped (the tree repairs by grafts); members that
    /// appeared get the next full digests; the first call picks the first eager links.
    public mutating func setPeers(_ ids: [NodeID]) {
        let next = ids.filter { $0 != ownID }.sorted()
        let nextSet = Set(next)
        let first = peers.isEmpty && eager.isEmpty
        var added = next.filter { !peerSet.contains($0) }
        if !added.isEmpty { repairedSinceLastRound = true }
        peers = next
        peerSet = nextSet
        eager.removeAll { !nextSet.contains($0) }
        for p in pruned.keys where !nextSet.contains(p) { pruned[p] = nil }
        for p in allowed.keys where !nextSet.contains(p) { allowed[p] = nil }
        for p in held.keys where !nextSet.contains(p) { held[p] = nil }
        for p in tracked.keys where !nextSet.contains(p) { tracked[p] = nil }
        newPeers.removeAll { !nextSet.contains($0) }
        while !added.isEmpty, newPeers.count < settings.maxNewPeersQueued {
            newPeers.append(added.remove(at: Int(random.next() % UInt64(added.count))))
        }
        if first { refillEager() }
    }

    /// When `tick` is next due; a time already past (`.zero`) while messages `setPeers`
    /// made (a picked link's empty GRAFT) wait to go out: a link opened late misses the
    /// first events of the origins that passed meanwhile, and waits for them behind a gap.
    public var nextWakeup: MeshTime {
        if !out.isEmpty { return .zero }
        var t = nextAntiEntropyAt
        if !pushQueue.isEmpty { t = min(t, nextPushAt) }
        t = min(t, nextHeldPushAt)
        if !lazyQueue.isEmpty { t = min(t, lazyDue) }
        if !missing.isEmpty { t = min(t, nextGraftAt) }
        return t
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
        let own = slot(event.origin)
        record([event], slot: own)
        metrics.appended += 1
        enqueue([event], slots: [own], from: nil, now: now)
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
            let r = accept(events, wallMilliseconds: wallMilliseconds)
            noteExchanged(events, slots: r.slots, with: peer)
            if !r.new.isEmpty { makeEager(peer, now: now) }
            // Origins this push brought only duplicates of: another path delivers them
            // first, so this link leaves their trees.
            var prune: [UInt32] = []
            for o in r.duplicateOrigins.subtracting(r.new.map(\.origin)) {
                let s = slot(o)
                guard lastPruneAt[s] == .min || now.nanoseconds - lastPruneAt[s] >= settings.pruneHoldoff.nanoseconds else { continue }
                lastPruneAt[s] = now.nanoseconds
                prune.append(EventID.tag(of: o))
            }
            if !prune.isEmpty { send(.prune(prune.sorted()), to: peer) }
            // Old events (a graft filling a gap after a partition or a restart) are stored,
            // not relayed nor announced: anti-entropy moves backlogs in bulk, and the tree
            // would deliver them a second time to the nodes its batches serve.
            let ageMilliseconds = UInt64(max(0, settings.maxRelayAge.nanoseconds / 1_000_000))
            var relay: [Event] = [], relaySlots: [Int] = []
            for (i, e) in r.new.enumerated() where e.time.milliseconds + ageMilliseconds >= wallMilliseconds {
                relay.append(e); relaySlots.append(r.newSlots[i])
            }
            enqueue(relay, slots: relaySlots, from: peer, now: now)
        case let .ihave(ids):
            noteAnnounced(ids, by: peer, now: now)
        case let .graft(ids):
            makeEager(peer, now: now)
            // An empty GRAFT: the peer picked this node as one of its links (`refillEager`),
            // which carries every origin it does not prune, both ways.
            if ids.isEmpty, eager.contains(peer) { allowed[peer] = nil }
            for id in ids {
                guard let s = tagSlot[id.tag], s >= 0 else { continue }
                allowed[peer]?.insert(s)
                pruned[peer]?.remove(s)
            }
            answerGraft(ids, to: peer)
        case let .prune(tags):
            for tag in tags {
                guard let s = tagSlot[tag], s >= 0 else { continue }
                if allowed[peer] != nil, slotIDs[s] != ownID { allowed[peer]!.remove(s) } else { pruned[peer, default: []].insert(s) }
            }
        case let .digest(entries, isReply):
            if let own = ownID {
                ownHighSeenAtPeers = max(ownHighSeenAtPeers, entries.first { $0.origin == own }?.marks.high ?? .zero)
                ownHistoryKnown = true
            }
            learnFullDigest(entries, of: peer, now: now)
            answer(entries, to: peer, now: now, wallMilliseconds: wallMilliseconds)
            if !isReply { sendFullDigest(to: peer, isReply: true, now: now) }
        case let .delta(entries, isReply):
            if let own = ownID, let mine = entries.first(where: { $0.origin == own }) {
                ownHighSeenAtPeers = max(ownHighSeenAtPeers, mine.high)
            }
            if answerDelta(entries, to: peer, now: now, wallMilliseconds: wallMilliseconds), !isReply { sendDelta(to: peer, isReply: true, now: now) }
        case let .batch(events, more):
            let r = accept(events, wallMilliseconds: wallMilliseconds, lowsOfSender: tracked[peer]?.lows ?? [:])
            if !r.new.isEmpty { repairedSinceLastRound = true }
            noteExchanged(events, slots: r.slots, with: peer)
            if more {
                catchUpPeer = peer
                nextAntiEntropyAt = min(nextAntiEntropyAt, now + settings.catchUpInterval)
            }
        }
        return flush()
    }

    /// Runs due pushes, announcements, grafts and anti-entropy.
    public mutating func tick(now: MeshTime) -> [ReplicationEffect] {
        if now >= nextPushAt, !pushQueue.isEmpty {
            pushRound(now: now)
            nextPushAt = now + settings.pushInterval
        } else if now >= nextHeldPushAt {
            pushHeld(now: now)
        }
        if !lazyQueue.isEmpty, now >= lazyDue {
            lazyRound()
            nextLazyAt = now + settings.lazyInterval
        }
        if now >= nextGraftAt, !missing.isEmpty { graftRound(now: now) }
        if now >= nextAntiEntropyAt {
            antiEntropyRound(now: now)
            antiEntropyPeriod = repairedSinceLastRound ? settings.antiEntropyInterval
                : min(antiEntropyPeriod * 2, max(settings.maxAntiEntropyInterval, settings.antiEntropyInterval))
            repairedSinceLastRound = false
            nextAntiEntropyAt = now + antiEntropyPeriod.scaled(by: 0.75 + 0.5 * random.nextUnit())
        }
        return flush()
    }

    /// Applies retention to the store; the marks follow.
    public mutating func prune(olderThanMilliseconds: UInt64?, maxBytesPerOrigin: Int?) throws(EventError) -> Int {
        let n = try store.prune(olderThanMilliseconds: olderThanMilliseconds, maxBytesPerOrigin: maxBytesPerOrigin)
        let held = try store.marks()
        for (s, id) in slotIDs.enumerated() {
            slotHigh[s] = held[id]?.high.value ?? 0
            slotLow[s] = held[id]?.low.value ?? 1
        }
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
        case .delta: metrics.deltasSent += 1
        case let .ihave(ids): metrics.idsAnnounced += UInt64(ids.count)
        case let .graft(ids): if !ids.isEmpty { metrics.graftsSent += 1 }     // empty: a link opened (`refillEager`), not a repair
        case let .prune(tags): metrics.prunesSent += UInt64(tags.count)
        }
        out.append(.send(m, to: peer))
    }

    /// The slot of `origin`, made when first seen.
    mutating func slot(_ origin: NodeID) -> Int {
        if let s = slotOf[origin] { return s }
        let s = slotIDs.count
        slotOf.append(origin)
        slotIDs.append(origin)
        slotHigh.append(0)
        slotLow.append(1)
        pending.append([:])
        if origin == ownID { ownSlot = s }
        var lo = 0, hi = slotsInIDOrder.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if slotIDs[slotsInIDOrder[mid]] < origin { lo = mid + 1 } else { hi = mid }
        }
        slotsInIDOrder.insert(s, at: lo)
        lastPruneAt.append(.min)
        let tag = EventID.tag(of: origin)
        tagSlot[tag] = tagSlot[tag] == nil ? s : -1
        return s
    }

    /// Raises the marks by `events`, a run of the origin in slot `s`.
    mutating func record(_ events: [Event], slot s: Int) {
        guard let first = events.first, let last = events.last else { return }
        // An origin's log is a gapless sequence: what is stored continues the high mark
        // (or starts the origin again after a forget), one by one, from that one origin.
        precondition(slotHigh[s] == 0 || first.seq.value == slotHigh[s] + 1,
                     "event log: \(first.origin) stored from \(first.seq) after \(slotHigh[s])")
        precondition(last.seq.value == first.seq.value + UInt64(events.count) - 1 && events.allSatisfy { $0.origin == first.origin },
                     "event log: a stored run is not one origin's consecutive events")
        if slotHigh[s] == 0 { slotLow[s] = first.seq.value }
        slotHigh[s] = last.seq.value
    }

    /// Verifies and stores what continues each origin's sequence; holds what is ahead of
    /// a gap; drops duplicates. Returns the events newly stored (`stored`, including those
    /// a gap that closed released), the received events this node had not seen before,
    /// stored or held (`new`, in message order: what a push relays), and the origins of the
    /// duplicates; also the slot of each received event's origin (-1 for an event refused
    /// before its origin had one) and of each new one, for the callers' per-slot tables.
    ///
    /// An origin starts at seq 1, or (a batch) at the sender's low-water mark as its last
    /// full digest stated it (`lowsOfSender`, the lows above 1): what the sender pruned is
    /// gone, and this node resumes from there, forgetting what it held of the origin if
    /// that is older. Any other event past a gap is held, whatever carried it: a batch that
    /// continues where the sender believes this node is (an earlier batch or push still on
    /// its way, or lost, or refused by a full disk) is not a low-water mark, and taken for
    /// one it left the events before it missing here for good (chaos seed 10, issue 21).
    @discardableResult
    mutating func accept(_ events: [Event], wallMilliseconds: UInt64, lowsOfSender: [NodeID: UInt64] = [:])
        -> (stored: [Event], new: [Event], duplicateOrigins: Set<NodeID>, slots: [Int], newSlots: [Int]) {
        var fresh: [Event] = []
        var new: [Event] = [], newSlots: [Int] = []
        var slots: [Int] = []
        slots.reserveCapacity(events.count)
        var duplicates: Set<NodeID> = []
        for e in events {
            // `slotHigh` mirrors the marks' highs (0: nothing held): one slot lookup per
            // event instead of a hashed `marks` read.
            let known = slotOf[e.origin]
            let high = known.map { slotHigh[$0] } ?? 0
            if high > 0, e.seq.value <= high { metrics.duplicates += 1; duplicates.insert(e.origin); slots.append(known!); continue }
            if settings.verifySignatures || e.origin == ownID {
                do { try e.verify() } catch {
                    metrics.rejected += 1
                    out.append(.rejected(origin: e.origin, seq: e.seq, error))
                    slots.append(known ?? -1)
                    continue
                }
            }
            // What we hold continues (or an origin starts at 1), or the sender's stated
            // low-water mark lies past what we hold.
            let continues = e.seq.value == high + 1
            let jumps = e.seq.value > high + 1 && lowsOfSender[e.origin] == e.seq.value
            if continues || jumps {
                let s = known ?? slot(e.origin)
                if high > 0, jumps {
                    // The sender pruned past what we hold: restart this origin from its low.
                    // The marks follow the store only once it forgot: a forget that failed
                    // (a full disk) and marks reset anyway left the store holding what the
                    // marks said was gone, every later event of the origin refused as out
                    // of order, and the next one stored counted as a new low-water mark
                    // that digests then advertised (chaos seed 10, issue 21).
                    do { try store.forget(origin: e.origin) } catch {
                        metrics.rejected += 1
                        out.append(.rejected(origin: e.origin, seq: e.seq, error))
                        slots.append(s)
                        continue
                    }
                    slotHigh[s] = 0
                    pending[s] = [:]
                }
                let run = store(e, slot: s, wallMilliseconds: wallMilliseconds)
                fresh += run
                if !run.isEmpty { new.append(e); newSlots.append(s) }
                slots.append(s)
            } else if let s = known, pending[s][e.seq.value] != nil {
                metrics.duplicates += 1
                duplicates.insert(e.origin)
                slots.append(s)
            } else {
                // A slot for the origin even before any of it is stored: deltas then report
                // the gap (a peer that pushed these believes nothing of them is missing
                // here), and `holds` finds the held ids.
                let s = known ?? slot(e.origin)
                slots.append(s)
                if pending[s].count < settings.maxPendingPerOrigin {
                    pending[s][e.seq.value] = e
                    new.append(e); newSlots.append(s)
                }
            }
        }
        if !missing.isEmpty { for e in new { missing[EventID(e)] = nil } }
        clock.observe(fresh.map(\.time).max() ?? HybridTimestamp(raw: 0), wallMilliseconds: wallMilliseconds)
        if !fresh.isEmpty { out.append(.stored(fresh)) }
        return (fresh, new, duplicates, slots, newSlots)
    }

    /// Stores `e` (of the origin in slot `s`) and whatever it unblocks from the pending buffer.
    mutating func store(_ e: Event, slot s: Int, wallMilliseconds: UInt64) -> [Event] {
        var run = [e]
        var next = e.seq.next.value
        if !pending[s].isEmpty {
            while let p = pending[s].removeValue(forKey: next) { run.append(p); next += 1 }
        }
        do {
            try store.append(run, receivedAtMilliseconds: wallMilliseconds)
        } catch {
            metrics.rejected += UInt64(run.count)
            out.append(.rejected(origin: e.origin, seq: e.seq, error))
            return []
        }
        record(run, slot: s)
        metrics.stored += UInt64(run.count)
        return run
    }

    /// Whether this node holds `id` (stored, held ahead of a gap, or already pruned).
    func holds(_ id: EventID) -> Bool {
        guard let s = tagSlot[id.tag], s >= 0 else { return false }
        return id.seq <= slotHigh[s] || pending[s][id.seq] != nil
    }

    /// The event `id` names, from the store or the pending buffer.
    func event(_ id: EventID) -> Event? {
        guard let s = tagSlot[id.tag], s >= 0 else { return nil }
        let origin = slotIDs[s]
        if id.seq <= slotHigh[s], id.seq > 0 {
            return (try? store.events(origin: origin, after: EventSeq(id.seq - 1), limit: 1, maxBytes: .max))?.first
        }
        return pending[s][id.seq]
    }
}

/// An announced id not yet received: who announced it, and when to graft next.
struct ReplicatorMissing {
    var announcers: [NodeID]
    var deadline: MeshTime
}

/// Events waiting on one link for a fuller push.
struct ReplicatorHeldPush {
    var events: [Event] = []
    /// The slot of each event's origin.
    var slots: [Int] = []
    var bytes = 0
    /// The push round that queued the oldest of them.
    var since: MeshTime
}

/// What one peer holds and knows, by slot (missing entries are 0).
struct ReplicatorPeerKnowledge {
    /// The highest seq per origin the peer is believed to hold.
    var known: [UInt64] = []
    /// The highest seq per origin the peer believes this node holds.
    var claimed: [UInt64] = []
    var lastUsed: MeshTime
    /// The highest seq per origin sent to the peer by batches since `batchesSentSince`
    /// (`ReplicationSettings.batchInFlightHold`): batches that may still be on their way.
    var batchedUpTo: [UInt64] = []
    var batchesSentSince = MeshTime(nanoseconds: .min)
    /// True once a full digest came from the peer: until then its knowledge is unknown
    /// and deltas to and from it are replaced by a full exchange.
    var synced = false
    /// The peer's low-water marks above 1, by origin, as its last full digest stated them:
    /// where a batch from it may start an origin past a gap here (`Replicator.accept`).
    /// Usually empty (retention prunes after 30 days or 64 MiB per origin).
    var lows: [NodeID: UInt64] = [:]
}
