import MeshCore

/// The queue of updates waiting to be piggybacked (SWIM §4.1, memberlist's
/// `TransmitLimitedQueue`).
///
/// Each update is sent at most `limit` times; the least-sent go first, so a new update
/// overtakes old ones. A newer update about a member replaces the queued one. The queue
/// holds at most `capacity` updates: beyond it, the most-sent are dropped.
struct Dissemination: Sendable {
    struct Entry: Sendable {
        var update: Update
        var transmits: Int
        var order: UInt64       // insertion order: newer first among equals
        let size: Int           // encoded bytes, computed once
        var limit: Int?         // own transmission limit (a last call), else the queue's
    }

    private var entries: [NodeID: Entry] = [:]
    private var counter: UInt64 = 0
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    var count: Int { entries.count }
    var isEmpty: Bool { entries.isEmpty }

    /// The smallest update (suspect or dead), to know when no more can fit.
    static let minUpdateBytes = 1 + 32 + 8 + 32

    /// Queues `update`, replacing any queued update about the same member. Beyond
    /// `capacity`, the most-sent eighth of the queue is dropped at once, so a burst of
    /// enqueues costs one sort per `capacity / 8` updates, not a scan each.
    /// `transmissions`, if given, limits this entry to that many sends (a suspicion's last
    /// call) instead of the limit passed to `take`.
    mutating func enqueue(_ update: Update, transmissions: Int? = nil) {
        counter += 1
        entries[update.subject] = Entry(update: update, transmits: 0, order: counter, size: update.encodedSize,
                                        limit: transmissions)
        if entries.count > capacity {
            let drop = max(1, capacity / 8)
            for (id, _) in entries.sorted(by: { rank($0.value) > rank($1.value) }).prefix(drop) {
                entries.removeValue(forKey: id)
            }
        }
    }

    /// The queued update about `id`, if any (the buddy system sends it to the suspect first).
    func queued(about id: NodeID) -> Update? { entries[id]?.update }

    /// Takes updates that fit in `byteBudget`, least-sent first, counting one transmission
    /// each and retiring those that reach `limit`. `first` (if queued) goes before the rest.
    ///
    /// One pass over the queue keeps the few best-ranked candidates that can fit (at most
    /// `byteBudget / minUpdateBytes`), so a queue of thousands costs a scan, not a sort.
    mutating func take(byteBudget: Int, limit: Int, first: NodeID? = nil) -> [Update] {
        guard !entries.isEmpty, byteBudget > 0 else { return [] }
        var picked: [Update] = []
        var used = 0
        func use(_ id: NodeID) {
            guard var e = entries[id] else { return }
            guard used + e.size <= byteBudget, picked.count < MembershipLimits.maxUpdatesPerMessage else { return }
            used += e.size
            picked.append(e.update)
            e.transmits += 1
            if e.transmits >= (e.limit ?? limit) { entries.removeValue(forKey: id) } else { entries[id] = e }
        }
        if let first, entries[first] != nil { use(first) }
        let room = min(MembershipLimits.maxUpdatesPerMessage, (byteBudget - used) / Self.minUpdateBytes + 1)
        var best: [(rank: (Int, UInt64), id: NodeID)] = []
        best.reserveCapacity(room + 1)
        for (id, e) in entries where id != first {
            let r = rank(e)
            if best.count == room, let last = best.last, !(r < last.rank) { continue }
            let at = best.firstIndex { r < $0.rank } ?? best.count
            best.insert((r, id), at: at)
            if best.count > room { best.removeLast() }
        }
        for (_, id) in best {
            if used + Self.minUpdateBytes > byteBudget || picked.count >= MembershipLimits.maxUpdatesPerMessage { break }
            use(id)
        }
        return picked
    }

    /// Sort key: fewer transmissions first, then newer first.
    private func rank(_ e: Entry) -> (Int, UInt64) { (e.transmits, UInt64.max - e.order) }
}
