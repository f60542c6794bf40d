import MeshCore

/// The queue of updates waiting to be piggybacked (SWIM §4.1, memberlist's
/// `TransmitLimitedQueue`).
///
/// Each update is sent at most `limit` times; the least-sent go first, so a new update
/// overtakes old ones, and among updates sent equally often the one queued or sent most
/// recently goes first. A newer update about a member replaces the queued one. The queue
/// holds at most `capacity` updates: beyond it, the most-sent are dropped.
///
/// Updates are kept in one bucket per transmission count, most recent last, so `take`
/// reads the best candidates off the ends of the first buckets instead of ranking the
/// whole queue (a join into a mesh of N members queues N updates at every node).
/// A bucket slot whose stamp no longer matches its entry's is stale (the entry was sent,
/// replaced or dropped since) and is skipped, popped from the end or compacted away.
struct Dissemination: Sendable {
    struct Entry: Sendable {
        var update: Update
        var transmits: Int
        var stamp: UInt64        // matches exactly one live bucket slot
        let size: Int            // encoded bytes, computed once
        var limit: Int?          // own transmission limit (a last call), else the queue's
    }

    struct Slot: Sendable {
        let id: NodeID
        let stamp: UInt64
    }

    private var entries: [NodeID: Entry] = [:]
    /// `buckets[t]`: slots of the entries sent `t` times, most recently queued or sent last.
    private var buckets: [[Slot]] = [[]]
    private var staleSlots = 0
    private var counter: UInt64 = 0
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    var count: Int { entries.count }
    var isEmpty: Bool { entries.isEmpty }

    /// The smallest update (suspect or dead), to know when no more can fit.
    static let minUpdateBytes = 1 + 32 + 8 + 32

    /// Queues `update`, replacing any queued update about the same member. Beyond
    /// `capacity`, the most-sent eighth of the queue is dropped at once.
    /// `transmissions`, if given, limits this entry to that many sends (a suspicion's last
    /// call) instead of the limit passed to `take`.
    mutating func enqueue(_ update: Update, transmissions: Int? = nil) {
        counter += 1
        let id = update.subject
        if entries[id] != nil { staleSlots += 1 }
        entries[id] = Entry(update: update, transmits: 0, stamp: counter, size: update.encodedSize, limit: transmissions)
        buckets[0].append(Slot(id: id, stamp: counter))
        if entries.count > capacity { evict(max(1, capacity / 8)) }
        compactIfMostlyStale()
    }

    /// The queued update about `id`, if any.
    func queued(about id: NodeID) -> Update? { entries[id]?.update }

    /// Takes updates that fit in `byteBudget`, least-sent first, counting one transmission
    /// each and retiring those that reach `limit`.
    mutating func take(byteBudget: Int, limit: Int) -> [Update] {
        guard !entries.isEmpty, byteBudget > 0 else { return [] }
        var picked: [Update] = []
        var used = 0
        var resent: [(slot: Slot, bucket: Int)] = []
        scan: for t in buckets.indices {
            var i = buckets[t].count - 1
            while i >= 0 {
                if picked.count >= MembershipLimits.maxUpdatesPerMessage || used + Self.minUpdateBytes > byteBudget { break scan }
                let slot = buckets[t][i]
                i -= 1
                guard var e = entries[slot.id], e.stamp == slot.stamp, used + e.size <= byteBudget else { continue }
                used += e.size
                picked.append(e.update)
                e.transmits += 1
                staleSlots += 1
                if e.transmits >= (e.limit ?? limit) {
                    entries.removeValue(forKey: slot.id)
                } else {
                    counter += 1
                    e.stamp = counter
                    entries[slot.id] = e
                    // Re-bucketed after the scan, so one message never carries it twice.
                    resent.append((Slot(id: slot.id, stamp: counter), e.transmits))
                }
            }
        }
        for t in buckets.indices { popStaleTail(t) }
        for (slot, t) in resent {
            while buckets.count <= t { buckets.append([]) }
            buckets[t].append(slot)
        }
        return picked
    }

    private func isLive(_ slot: Slot) -> Bool { entries[slot.id]?.stamp == slot.stamp }

    private mutating func popStaleTail(_ t: Int) {
        while let last = buckets[t].last, !isLive(last) {
            buckets[t].removeLast()
            staleSlots -= 1
        }
        if buckets[t].isEmpty, buckets[t].capacity > 64 { buckets[t] = [] }
    }

    /// Drops `count` entries, the most-sent first and, among equals, the oldest.
    private mutating func evict(_ count: Int) {
        var dropped = 0
        for t in buckets.indices.reversed() {
            for slot in buckets[t] where dropped < count && isLive(slot) {
                entries.removeValue(forKey: slot.id)
                staleSlots += 1
                dropped += 1
            }
            if dropped >= count { break }
        }
        compactIfMostlyStale()
    }

    /// Rebuilds the buckets without stale slots once they outnumber the live ones.
    private mutating func compactIfMostlyStale() {
        guard staleSlots > entries.count + 64 else { return }
        let live = entries
        // New arrays, not `removeAll(where:)`: a bucket that held a join's thousand
        // updates must not keep their capacity for the rest of the run.
        for t in buckets.indices { buckets[t] = buckets[t].filter { live[$0.id]?.stamp == $0.stamp } }
        while buckets.count > 1, buckets[buckets.count - 1].isEmpty { buckets.removeLast() }
        staleSlots = 0
    }
}
