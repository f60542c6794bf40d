import MeshCore

/// An origin → slot index (the replicator's, and the simulator's event table's): open addressing keyed by the id's first word.
///
/// A node id is an Ed25519 public key, so its first 64 bits are already uniformly spread
/// and need no hashing; a `[NodeID: Int]` ran SipHash over all 32 bytes for every event
/// sent, received and stored (the simulator's largest cost after the event copies). A hit
/// is confirmed against the whole id, so a shared first word only costs a probe. Slots
/// are only ever added; the table doubles at half full.
public struct OriginSlots: Sendable {
    /// Slot per bucket, -1 for an empty bucket.
    private var buckets = [Int32](repeating: -1, count: 64)
    /// The id of each slot.
    private var ids: [NodeID] = []

    public init() {}

    public var count: Int { ids.count }

    public subscript(id: NodeID) -> Int? {
        let mask = buckets.count - 1
        var i = Int(truncatingIfNeeded: id.w0) & mask
        while true {
            let s = Int(buckets[i])
            if s < 0 { return nil }
            if ids[s] == id { return s }
            i = (i + 1) & mask
        }
    }

    /// Adds `id` as the next slot (`count`); the caller has checked it is absent.
    public mutating func append(_ id: NodeID) {
        if (ids.count + 1) * 2 > buckets.count {
            buckets = [Int32](repeating: -1, count: buckets.count * 2)
            for (s, old) in ids.enumerated() { place(old, slot: s) }
        }
        place(id, slot: ids.count)
        ids.append(id)
    }

    private mutating func place(_ id: NodeID, slot: Int) {
        let mask = buckets.count - 1
        var i = Int(truncatingIfNeeded: id.w0) & mask
        while buckets[i] >= 0 { i = (i + 1) & mask }
        buckets[i] = Int32(slot)
    }
}
