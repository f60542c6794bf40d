import MeshCore

/// Snapshots and log compaction (Raft §7): the shell compacts the log once enough entries
/// are applied, and the leader sends the snapshot in bounded chunks to a follower that
/// needs entries it no longer has (a lagging or new node).
extension RaftNode {
    /// Whether at least `settings.snapshotThresholdEntries` applied entries are still in the
    /// log: time for the shell to call `compact`.
    public var shouldCompact: Bool { applied.value - snapshotIndex.value >= UInt64(settings.snapshotThresholdEntries) }

    /// Replaces the log up to `index` (applied) by a snapshot whose `data` is the state
    /// machine's encoding at `index`. Returns the snapshot for the shell to persist (with
    /// the entries up to `index` dropped), nil when there is nothing to compact.
    public mutating func compact(through index: LogIndex, data: [UInt8]) -> RaftSnapshot? {
        guard index > snapshotIndex, index <= applied, let t = term(at: index) else { return nil }
        let c = configuration(at: index)
        log.removeFirst(position(index) + 1)
        snapshot = RaftSnapshot(index: index, term: t, configuration: c, data: data)
        return snapshot
    }

    /// The configuration in effect at `index` (the newest configuration entry up to it).
    func configuration(at index: LogIndex) -> RaftConfiguration {
        var i = min(index, lastIndex)
        while i > snapshotIndex {
            let e = log[position(i)]
            if e.kind == .configuration, let c = try? RaftConfiguration.decode(e.command) { return c }
            i = i.previous
        }
        return snapshot?.configuration ?? initialConfiguration
    }

    /// Leader: sends `peer` the chunk of the snapshot at its offset, one chunk in flight.
    mutating func sendSnapshotChunk(to peer: NodeID) {
        guard let s = snapshot else { return }
        let offset = min(Int(snapshotOffsets[peer, default: 0]), s.data.count)
        let end = min(s.data.count, offset + settings.snapshotChunkBytes)
        snapshotOffsets[peer] = UInt64(offset)
        inflight[peer] = 1
        send(.installSnapshot(InstallSnapshot(term: term, index: s.index, lastTerm: s.term, configuration: s.configuration,
                                              offset: UInt64(offset), data: Array(s.data[offset ..< end]),
                                              done: end == s.data.count)), to: peer)
    }

    mutating func handleInstallSnapshot(_ m: InstallSnapshot, from: NodeID, now: MeshTime) {
        func answer(_ next: UInt64, installed: Bool) {
            send(.snapshotResponse(SnapshotResponse(term: term, index: m.index, nextOffset: next, installed: installed)), to: from)
        }
        guard m.term >= term else { answer(0, installed: false); return }
        becomeFollower(term: m.term, leader: from, now: now)
        lastHeardFromLeader = now
        // Everything it covers is committed here already.
        guard m.index > hard.commit else { incoming = nil; answer(0, installed: true); return }
        if m.offset == 0 {
            incoming = InstallSnapshot(term: m.term, index: m.index, lastTerm: m.lastTerm, configuration: m.configuration,
                                       offset: 0, data: [], done: false)
        }
        guard var partial = incoming, partial.index == m.index, partial.lastTerm == m.lastTerm,
              UInt64(partial.data.count) == m.offset else {
            // A chunk out of order (a lost or repeated one): ask for where we are.
            answer(incoming.map { $0.index == m.index ? UInt64($0.data.count) : 0 } ?? 0, installed: false)
            return
        }
        guard partial.data.count + m.data.count <= RaftLimits.maxSnapshotBytes else { incoming = nil; answer(0, installed: false); return }
        partial.data += m.data
        guard m.done else { incoming = partial; answer(UInt64(partial.data.count), installed: false); return }
        incoming = nil
        let s = RaftSnapshot(index: m.index, term: m.lastTerm, configuration: m.configuration, data: partial.data)
        if term(at: s.index) == s.term {
            log.removeFirst(position(s.index) + 1)     // §7: keep the entries that follow it
            ready.entries.removeAll { $0.index <= s.index }
        } else {
            log = []
            ready.entries = []
            ready.truncateFrom = LogIndex(1)
        }
        snapshot = s
        hard.commit = max(hard.commit, s.index)
        applied = max(applied, s.index)
        ready.snapshot = s
        ready.committed = []
        recomputeConfiguration()
        stopAbstainingIfRemoved(leader: from)
        answer(UInt64(s.data.count), installed: true)
    }

    mutating func handleSnapshotResponse(_ m: SnapshotResponse, from: NodeID, now: MeshTime) {
        if m.term > term { becomeFollower(term: m.term, leader: nil, now: now); return }
        guard role == .leader, m.term == term, peers.contains(from) else { return }
        lastAnswer[from] = now
        inflight[from] = 0
        if m.installed {
            snapshotOffsets[from] = nil
            if m.index > matchIndex[from, default: .zero] { matchIndex[from] = m.index }
            nextIndex[from] = max(m.index, matchIndex[from, default: .zero]).next
            maybeCommit()
            if role == .leader, nextIndex[from, default: lastIndex.next] <= lastIndex { sendAppend(to: from, heartbeat: false) }
        } else {
            snapshotOffsets[from] = m.index == snapshotIndex ? m.nextOffset : 0
            sendSnapshotChunk(to: from)
        }
    }
}
