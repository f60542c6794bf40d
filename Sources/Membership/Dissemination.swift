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
    }

    private var entries: [NodeID: Entry] = [:]
    private var counter: UInt64 = 0
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    var count: Int { entries.count }
    var isEmpty: Bool { entries.isEmpty }

    /// Queues `update`, replacing any queued update about the same member.
    mutating func enqueue(_ update: Update) {
        counter += 1
        entries[update.subject] = Entry(update: update, transmits: 0, order: counter)
        if entries.count > capacity, let worst = entries.max(by: { rank($0.value) < rank($1.value) })?.key {
            entries.removeValue(forKey: worst)
        }
    }

    /// The queued update about `id`, if any (the buddy system sends it to the suspect first).
    func queued(about id: NodeID) -> Update? { entries[id]?.update }

    /// Takes updates that fit in `byteBudget`, least-sent first, counting one transmission
    /// each and retiring those that reach `limit`. `first` (if queued) goes before the rest.
    mutating func take(byteBudget: Int, limit: Int, first: NodeID? = nil) -> [Update] {
        guard !entries.isEmpty, byteBudget > 0 else { return [] }
        var picked: [Update] = []
        var used = 0
        func use(_ id: NodeID) {
            guard var e = entries[id] else { return }
            let size = e.update.encodedSize
            guard used + size <= byteBudget, picked.count < MembershipLimits.maxUpdatesPerMessage else { return }
            used += size
            picked.append(e.update)
            e.transmits += 1
            if e.transmits >= limit { entries.removeValue(forKey: id) } else { entries[id] = e }
        }
        if let first, entries[first] != nil { use(first) }
        let candidates = entries.filter { $0.key != first }.sorted { rank($0.value) < rank($1.value) }
        for (id, _) in candidates {
            if used + 1 + 32 + 8 + 32 > byteBudget || picked.count >= MembershipLimits.maxUpdatesPerMessage { break }
            use(id)
        }
        return picked
    }

    /// Sort key: fewer transmissions first, then newer first.
    private func rank(_ e: Entry) -> (Int, UInt64) { (e.transmits, UInt64.max - e.order) }
}
