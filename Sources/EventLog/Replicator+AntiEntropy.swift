import MeshCore
import MeshWire

/// Anti-entropy: full and incremental scuttlebutt digests, and the per-peer knowledge the
/// incremental ones rest on.
extension Replicator {
    /// One round: a full digest to the peer still sending us a backlog, else to a member
    /// that newly appeared, else (one round in `fullDigestEvery`, or with no eager link) to
    /// a random member; otherwise an incremental digest to a random eager peer.
    mutating func antiEntropyRound(now: MeshTime) {
        antiEntropyRounds += 1
        if let peer = catchUpPeer {
            catchUpPeer = nil
            sendFullDigest(to: peer, isReply: false, now: now)
        } else if let peer = newPeers.popLast() {
            sendFullDigest(to: peer, isReply: false, now: now)
        } else if antiEntropyRounds % max(1, settings.fullDigestEvery) == 0 || eager.isEmpty {
            guard !peers.isEmpty else { return }
            sendFullDigest(to: peers[Int(random.next() % UInt64(peers.count))], isReply: false, now: now)
        } else {
            sendDelta(to: eager[Int(random.next() % UInt64(eager.count))], isReply: false, now: now)
        }
    }

    /// The slots of the origins held, in id order (the order of digests and answers).
    func heldSlotsInIDOrder() -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(slotsInIDOrder.count)
        for s in slotsInIDOrder where slotHigh[s] > 0 { out.append(s) }
        return out
    }

    func digest() -> [DigestEntry] {
        heldSlotsInIDOrder().map { s in
            DigestEntry(origin: slotIDs[s], marks: OriginMarks(low: EventSeq(slotLow[s]), high: EventSeq(slotHigh[s])))
        }
    }

    mutating func sendFullDigest(to peer: NodeID, isReply: Bool, now: MeshTime) {
        if tracked[peer] != nil {
            tracked[peer]!.claimed = slotHigh
            tracked[peer]!.lastUsed = now
        }
        send(.digest(digest(), isReply: isReply), to: peer)
    }

    /// A full digest states exactly what `peer` holds: its knowledge is replaced, its
    /// low-water marks too.
    mutating func learnFullDigest(_ entries: [DigestEntry], of peer: NodeID, now: MeshTime) {
        track(peer, now: now)
        var known = [UInt64](repeating: 0, count: slotIDs.count)
        var lows: [NodeID: UInt64] = [:]
        for e in entries {
            if let s = slotOf[e.origin] { known[s] = e.marks.high.value }
            if e.marks.low.value > 1 { lows[e.origin] = e.marks.low.value }
        }
        tracked[peer]?.known = known
        tracked[peer]?.synced = true
        tracked[peer]?.lows = lows
    }

    /// Sends `peer` what it lacks according to its full digest, within one batch's bytes.
    mutating func answer(_ entries: [DigestEntry], to peer: NodeID, now: MeshTime, wallMilliseconds: UInt64) {
        // Their highs by slot (origins this node does not hold are not answered).
        var theirs = [UInt64](repeating: 0, count: slotHigh.count)
        for e in entries { if let s = slotOf[e.origin] { theirs[s] = e.marks.high.value } }
        var gaps: [(Int, UInt64)] = []
        for s in heldSlotsInIDOrder() where slotHigh[s] > theirs[s] { gaps.append((s, theirs[s])) }
        sendBatch(gaps, to: peer, now: now, wallMilliseconds: wallMilliseconds)
    }

    /// Sends, per origin, the events after the given seq, within `maxBatchBytes` and
    /// `maxBatchEvents`, leaving out those younger than `antiEntropyGrace`; `more` when a
    /// limit cut it short, or when an origin was left out because an earlier batch to
    /// `peer` carried it past the peer's mark and may still be on its way
    /// (`batchInFlightHold`). `gaps` name each origin by its slot.
    mutating func sendBatch(_ gaps: [(slot: Int, after: UInt64)], to peer: NodeID, now: MeshTime, wallMilliseconds: UInt64) {
        let graceMilliseconds = UInt64(max(0, settings.antiEntropyGrace.nanoseconds / 1_000_000))
        let cutoff = wallMilliseconds > graceMilliseconds ? wallMilliseconds - graceMilliseconds : 0
        var batch: [Event] = []
        var bytes = 0
        var more = false
        // What earlier batches to `peer` carried, while they may still be on their way.
        let recent = tracked[peer].flatMap { k in now < k.batchesSentSince + settings.batchInFlightHold ? k.batchedUpTo : nil }
        for (s, theirHigh) in gaps {
            guard slotHigh[s] > 0 else { continue }
            if let recent, s < recent.count, recent[s] > theirHigh {
                metrics.batchOriginsInFlightSkipped += 1
                more = true
                continue
            }
            let origin = slotIDs[s]
            let mine = OriginMarks(low: EventSeq(slotLow[s]), high: EventSeq(slotHigh[s]))
            let budget = settings.maxBatchBytes - bytes
            if budget <= 0 || batch.count >= ReplicationLimits.maxBatchEvents { more = true; break }
            // Below our low-water mark nothing is left to send: resume from `low`.
            let after = EventSeq(max(theirHigh, mine.low.value - 1))
            let limit = ReplicationLimits.maxBatchEvents - batch.count
            guard var events = try? store.events(origin: origin, after: after, limit: limit, maxBytes: budget) else { continue }
            let full = events.count
            if let young = events.firstIndex(where: { $0.time.milliseconds > cutoff }) { events.removeSubrange(young...) }
            batch += events
            if events.count < full { continue }
            bytes += events.reduce(0) { $0 + $1.encodedSize }
            if let last = events.last, last.seq < mine.high { more = true }
        }
        guard !batch.isEmpty else { return }
        noteExchanged(batch, with: peer)
        noteBatched(batch, to: peer, now: now)
        send(.batch(batch, more: more), to: peer)
    }

    /// An incremental digest to `peer`: the origins whose high differs from what `peer`
    /// knows this node holds, or that are held back by a gap.
    mutating func sendDelta(to peer: NodeID, isReply: Bool, now: MeshTime) {
        guard track(peer, now: now), tracked[peer]!.synced else {
            sendFullDigest(to: peer, isReply: isReply, now: now)
            return
        }
        var k = tracked.removeValue(forKey: peer)!
        if k.claimed.count < slotHigh.count { k.claimed += [UInt64](repeating: 0, count: slotHigh.count - k.claimed.count) }
        var entries: [DeltaEntry] = []
        for s in slotHigh.indices where slotHigh[s] != k.claimed[s] || !pending[s].isEmpty {
            entries.append(DeltaEntry(origin: slotIDs[s], high: EventSeq(slotHigh[s])))
            k.claimed[s] = slotHigh[s]
        }
        tracked[peer] = k
        send(.delta(entries, isReply: isReply), to: peer)
    }

    /// Takes `peer`'s incremental digest into its knowledge and sends it the events it is
    /// not known to hold. A peer whose knowledge is not kept (or not yet learned from a
    /// full digest) gets a full digest instead, which starts a full exchange; returns false
    /// then.
    mutating func answerDelta(_ entries: [DeltaEntry], to peer: NodeID, now: MeshTime, wallMilliseconds: UInt64) -> Bool {
        guard track(peer, now: now), tracked[peer]!.synced else {
            sendFullDigest(to: peer, isReply: false, now: now)
            return false
        }
        var k = tracked.removeValue(forKey: peer)!
        if k.known.count < slotHigh.count { k.known += [UInt64](repeating: 0, count: slotHigh.count - k.known.count) }
        for e in entries { if let s = slotOf[e.origin] { k.known[s] = e.high.value } }
        var gaps: [(slot: Int, after: UInt64)] = []
        for s in slotHigh.indices where slotHigh[s] > k.known[s] { gaps.append((s, k.known[s])) }
        tracked[peer] = k
        sendBatch(gaps, to: peer, now: now, wallMilliseconds: wallMilliseconds)
        return true
    }

    /// Remembers how far `batch` took each origin for `peer`, as on its way (a new window
    /// once the previous one has passed `batchInFlightHold`).
    mutating func noteBatched(_ batch: [Event], to peer: NodeID, now: MeshTime) {
        guard let i = tracked.index(forKey: peer) else { return }
        let n = slotHigh.count
        if now >= tracked.values[i].batchesSentSince + settings.batchInFlightHold {
            tracked.values[i].batchedUpTo = [UInt64](repeating: 0, count: n)
            tracked.values[i].batchesSentSince = now
        } else if tracked.values[i].batchedUpTo.count < n {
            tracked.values[i].batchedUpTo += [UInt64](repeating: 0, count: n - tracked.values[i].batchedUpTo.count)
        }
        for e in batch {
            guard let s = slotOf[e.origin] else { continue }
            tracked.values[i].batchedUpTo[s] = max(tracked.values[i].batchedUpTo[s], e.seq.value)
        }
    }

    /// Starts keeping knowledge of `peer` (forgetting the least recently used non-eager
    /// peer beyond `maxTrackedPeers`). False when no room could be made.
    @discardableResult
    mutating func track(_ peer: NodeID, now: MeshTime) -> Bool {
        if let i = tracked.index(forKey: peer) { tracked.values[i].lastUsed = now; return true }
        if tracked.count >= settings.maxTrackedPeers {
            let victim = tracked.filter { !eager.contains($0.key) }.min { ($0.value.lastUsed, $0.key) < ($1.value.lastUsed, $1.key) }
            guard let victim else { return false }
            tracked[victim.key] = nil
        }
        tracked[peer] = PeerKnowledge(lastUsed: now)
        return true
    }

    /// Events sent to or received from `peer`: it holds them, and knows this node does.
    /// What `peer` is known to hold rises only where the events continue it: a pushed event
    /// may wait ahead of a gap at the receiver (or be relayed from ahead of one), and a
    /// belief above what the peer holds would keep anti-entropy from ever sending the gap.
    mutating func noteExchanged(_ events: [Event], with peer: NodeID) {
        guard let i = tracked.index(forKey: peer) else { return }
        let n = slotHigh.count
        tracked.values[i].raise(events, slots: events.map { slotOf[$0.origin] ?? -1 }, count: n)
    }

    /// The same, with each event's slot known (-1: none).
    mutating func noteExchanged(_ events: [Event], slots: [Int], with peer: NodeID) {
        guard let i = tracked.index(forKey: peer) else { return }
        let n = slotHigh.count
        tracked.values[i].raise(events, slots: slots, count: n)
    }
}

extension ReplicatorPeerKnowledge {
    /// `noteExchanged` in place (no copy of the tables).
    mutating func raise(_ events: [Event], slots: [Int], count n: Int) {
        if known.count < n { known += [UInt64](repeating: 0, count: n - known.count) }
        if claimed.count < n { claimed += [UInt64](repeating: 0, count: n - claimed.count) }
        for (i, e) in events.enumerated() {
            let s = slots[i]
            guard s >= 0 else { continue }
            if e.seq.value <= known[s] + 1 { known[s] = max(known[s], e.seq.value) }
            if e.seq.value <= claimed[s] + 1 { claimed[s] = max(claimed[s], e.seq.value) }
        }
    }
}
