import MeshCore
import MeshWire

/// The broadcast tree (Plumtree): eager pushes along tree links, lazy announcements off
/// them, grafts for what was announced and did not come.
extension Replicator {
    /// Makes `peer` a closed link (a push or graft came from it, or this node grafts from
    /// it), within `maxEagerPeers`: it carries only the origins the peer grafts.
    mutating func makeEager(_ peer: NodeID, now: MeshTime) {
        guard peer != ownID, !eager.contains(peer), eager.count < settings.maxEagerPeers else { return }
        eager.append(peer)
        allowed[peer] = []
        track(peer, now: now)
    }

    /// Picks `pushFanout` random members as eager links (the first call, or when every
    /// eager link is gone), and asks the first of them to open its side of the link too
    /// (an empty GRAFT): that link carries every origin both ways, so every node has at
    /// least one member pushing it every origin. Without it a picked member pushed back
    /// only its own events, and a node no member happened to pick (at N = 1,000 with two
    /// picks each, e⁻² ≈ 13 % of the nodes at a common start) got each other origin only
    /// once it grafted it, one announcement (200-600 ms) and `graftTimeout` (800 ms) later:
    /// the first 8 s of a flood at N = 1,000 had a p50 of 2-3 s. Opening every pick (both
    /// ways, as Plumtree's symmetric links) did as well for latency but thinned the pushes:
    /// bytes 1.46 → 1.48 at N = 100, against 1.43 with one (simulations/README.md, stop
    /// 13). The empty GRAFT goes out with the next effects (`nextWakeup` is then due).
    mutating func refillEager() {
        let want = min(settings.pushFanout, peers.count, settings.maxEagerPeers)
        var tries = 0
        while eager.count < want, tries < want * 8 {
            tries += 1
            let p = peers[Int(random.next() % UInt64(peers.count))]
            if !eager.contains(p) {
                if eager.isEmpty { send(.graft([]), to: p) }
                eager.append(p); allowed[p] = nil; pruned[p] = nil
            }
        }
    }

    /// Queues new events (with their origins' slots) for the next push round and their ids
    /// for the next lazy round.
    mutating func enqueue(_ events: [Event], slots: [Int], from: NodeID?, now: MeshTime) {
        if lazyQueue.isEmpty, !events.isEmpty { lazySince = now }
        for (i, e) in events.enumerated() {
            if pushQueue.count < settings.maxPushQueue { pushQueue.append((e, slots[i], from)) } else { metrics.pushQueueDropped += 1 }
            if lazyQueue.count < settings.maxLazyQueue { lazyQueue.append((EventID(e), from)) } else { metrics.lazyQueueDropped += 1 }
        }
    }

    /// Distributes the queued events to every eager link except the one each came from
    /// (and those the link does not carry), then sends what is due (`pushHeld`).
    mutating func pushRound(now: MeshTime) {
        defer { pushQueue.removeAll(keepingCapacity: true) }
        if eager.isEmpty, !peers.isEmpty {
            refillEager()
            metrics.eagerRefills += 1
            for p in eager { track(p, now: now) }
        }
        for target in eager {
            track(target, now: now)
            let skip = pruned[target], only = allowed[target]
            var h = held[target] ?? HeldPush(since: now)
            let before = h.events.count
            for (e, s, from) in pushQueue where from != target {
                if s >= 0 {
                    if skip?.contains(s) == true { continue }
                    if let only, !only.contains(s), e.origin != ownID { continue }
                }
                h.events.append(e); h.slots.append(s); h.bytes += e.encodedSize
            }
            if before == 0 { h.since = now }
            if !h.events.isEmpty { held[target] = h }
        }
        pushHeld(now: now)
    }

    /// Sends each link's held events, packed into datagrams, once they fill `pushFillBytes`
    /// or the oldest has waited `maxPushHold`; the rest wait. Origins the link pruned while
    /// they waited are left out (a link that leaves the tree drops its own in `setPeers`).
    mutating func pushHeld(now: MeshTime) {
        var next = MeshTime(nanoseconds: .max)
        for target in eager {
            guard var h = held[target] else { continue }
            let due = h.since + settings.maxPushHold
            guard h.bytes >= settings.pushFillBytes || now >= due else { next = min(next, due); continue }
            held[target] = nil
            let skip = pruned[target] ?? []
            var chunk: [Event] = [], chunkSlots: [Int] = [], bytes = 0
            for (i, e) in h.events.enumerated() {
                let s = h.slots[i]
                if !skip.isEmpty, s >= 0, skip.contains(s) { continue }
                let size = e.encodedSize
                if bytes + size > settings.maxPushBytes, !chunk.isEmpty {
                    sendPush(chunk, slots: chunkSlots, to: target)
                    chunk = []; chunkSlots = []; bytes = 0
                }
                chunk.append(e); chunkSlots.append(s); bytes += size
            }
            if !chunk.isEmpty { sendPush(chunk, slots: chunkSlots, to: target) }
        }
        nextHeldPushAt = next
    }

    /// Whether the eager link to `target` carries the events of the origin in slot `s`. An
    /// open link (one this node picked) carries every origin it did not prune; a closed one (it came to this
    /// node) only those the peer grafted, and this node's own: each node is the root of its
    /// own origin's tree, so its own events go on every link until pruned (a seed node
    /// whose links all came from joiners would otherwise push its events to nobody).
    /// `pushRound` inlines the same test, with the link's tables looked up once per round.
    func carries(_ target: NodeID, slot s: Int) -> Bool {
        if pruned[target]?.contains(s) == true { return false }
        guard let only = allowed[target] else { return true }
        return only.contains(s) || slotIDs[s] == ownID
    }

    /// Pushes `events` (their origins' slots in `slots`, or looked up when nil).
    mutating func sendPush(_ events: [Event], slots: [Int]? = nil, to peer: NodeID) {
        if let slots { noteExchanged(events, slots: slots, with: peer) } else { noteExchanged(events, with: peer) }
        send(.push(events), to: peer)
    }

    /// When the next lazy round is due: at the round's interval once `lazyFillIDs` ids wait,
    /// else when the oldest has waited `maxLazyHold` (a lazy announcement costs a sealed
    /// frame however few ids it names).
    var lazyDue: MeshTime {
        lazyQueue.count >= settings.lazyFillIDs ? nextLazyAt : max(nextLazyAt, lazySince + settings.maxLazyHold)
    }

    /// Announces the queued ids to `lazyFanout` random members that do not get all of them
    /// eagerly from this node: members off the tree, and links that are pruned or closed
    /// for some origins (in a small mesh every member can be a link). Each is told only
    /// the ids its link does not carry.
    mutating func lazyRound() {
        defer { lazyQueue.removeAll(keepingCapacity: true); lazySince = MeshTime(nanoseconds: .max) }
        // Every member but the open links that carry every origin. `peers` is sorted, so
        // one merge with those few links (not three lookups per member: a lazy round is
        // frequent and a mesh large).
        let full = eager.filter { allowed[$0] == nil && pruned[$0]?.isEmpty != false }.sorted()
        var candidates: [NodeID] = []
        candidates.reserveCapacity(peers.count)
        var j = 0
        for p in peers {
            while j < full.count, full[j] < p { j += 1 }
            if j < full.count, full[j] == p { continue }
            candidates.append(p)
        }
        guard !candidates.isEmpty else { return }
        var targets: [NodeID] = []
        var tries = 0
        while targets.count < min(settings.lazyFanout, candidates.count), tries < settings.lazyFanout * 8 {
            tries += 1
            let p = candidates[Int(random.next() % UInt64(candidates.count))]
            if !targets.contains(p) { targets.append(p) }
        }
        for t in targets {
            let linked = eager.contains(t)
            var ids: [EventID] = []
            for (id, from) in lazyQueue where from != t {
                if linked, let s = tagSlot[id.tag], s >= 0, carries(t, slot: s) { continue }
                ids.append(id)
                if ids.count == ReplicationLimits.maxAnnouncedIDs { send(.ihave(ids), to: t); ids.removeAll() }
            }
            if !ids.isEmpty { send(.ihave(ids), to: t) }
        }
    }

    /// Remembers announced ids this node lacks, to graft them if they do not come in time.
    mutating func noteAnnounced(_ ids: [EventID], by peer: NodeID, now: MeshTime) {
        let deadline = now + settings.graftTimeout
        for id in ids where !holds(id) {
            if var m = missing[id] {
                if m.announcers.count < settings.maxAnnouncersPerID, !m.announcers.contains(peer) {
                    m.announcers.append(peer)
                    missing[id] = m
                }
            } else if missing.count < settings.maxMissing {
                missing[id] = Missing(announcers: [peer], deadline: deadline)
                nextGraftAt = min(nextGraftAt, deadline)
            } else {
                metrics.announcementsIgnored += 1
            }
        }
    }

    /// Grafts every missing id whose deadline passed from its next announcer (making that
    /// link eager); gives up on ids no announcer is left for.
    mutating func graftRound(now: MeshTime) {
        var requests: [NodeID: [EventID]] = [:]
        var next = MeshTime(nanoseconds: .max)
        // In id order, not the dictionary's (which varies from process to process): the
        // same inputs must give the same messages, or a simulation seed would not replay.
        for id in missing.keys.sorted(by: { ($0.tag, $0.seq) < ($1.tag, $1.seq) }) {
            guard var m = missing[id] else { continue }
            if holds(id) { missing[id] = nil; continue }
            if m.deadline > now { next = min(next, m.deadline); continue }
            guard !m.announcers.isEmpty else {
                missing[id] = nil
                metrics.graftsAbandoned += 1
                continue
            }
            let q = m.announcers.removeFirst()
            requests[q, default: []].append(id)
            m.deadline = now + settings.graftTimeout
            next = min(next, m.deadline)
            missing[id] = m
        }
        nextGraftAt = next
        if !requests.isEmpty { repairedSinceLastRound = true }
        for q in requests.keys.sorted() {
            makeEager(q, now: now)
            let ids = withGaps(requests[q]!)
            for start in stride(from: 0, to: ids.count, by: ReplicationLimits.maxAnnouncedIDs) {
                send(.graft(Array(ids[start ..< min(ids.count, start + ReplicationLimits.maxAnnouncedIDs)])), to: q)
            }
        }
    }

    /// The grafted ids preceded by the ids of the gap before each (an origin this node
    /// holds only up to an earlier seq, or not at all): a grafted event alone would be held
    /// ahead of its gap. At most `maxGraftEvents` ids in all; anti-entropy brings the rest.
    func withGaps(_ ids: [EventID]) -> [EventID] {
        var out: [EventID] = []
        var asked: Set<EventID> = []
        for id in ids {
            let s = tagSlot[id.tag] ?? -1
            let high = s >= 0 ? slotHigh[s] : 0
            let origin = s >= 0 ? slotIDs[s] : nil
            var seq = high + 1
            while seq < id.seq, out.count < settings.maxGraftEvents - 1 {
                let gap = EventID(tag: id.tag, seq: seq)
                if origin == nil || pending[s][seq] == nil, asked.insert(gap).inserted { out.append(gap) }
                seq += 1
            }
            if out.count >= settings.maxGraftEvents { break }
            if asked.insert(id).inserted { out.append(id) }
        }
        return out
    }

    /// Pushes the grafted events this node holds to `peer` at once.
    mutating func answerGraft(_ ids: [EventID], to peer: NodeID) {
        var events: [Event] = []
        for id in ids.prefix(settings.maxGraftEvents) { if let e = event(id) { events.append(e) } }
        metrics.graftedEventsSent += UInt64(events.count)
        var chunk: [Event] = [], bytes = 0
        for e in events {
            let size = e.encodedSize
            if bytes + size > settings.maxPushBytes, !chunk.isEmpty { sendPush(chunk, to: peer); chunk = []; bytes = 0 }
            chunk.append(e); bytes += size
        }
        if !chunk.isEmpty { sendPush(chunk, to: peer) }
    }
}
