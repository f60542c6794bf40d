import Consensus
import MeshCore

/// A node's disk in the Raft simulation: synced records, each with a checksum, as
/// `RaftStorage` keeps them in SQLite, plus the writes issued since the last fsync. A crash
/// loses (or tears) the unsynced writes and keeps every synced one; faults injected while
/// the node is down damage synced records; `load` verifies every checksum and that the
/// log reaches the last index the state record vouches for, as a restart would.
struct RaftSimDisk: Sendable {
    struct Record: Sendable {
        var entry: LogEntry
        var checksum: UInt64
    }

    /// The state record: hard state and the last log index synced with it.
    var hard = HardState()
    var lastSynced = LogIndex.zero
    var hardChecksum: UInt64 = RaftSimDisk.checksum(HardState(), .zero)
    var records: [Record] = []
    /// The snapshot record (the log's records start after its index).
    var snapshot: RaftSnapshot?
    var snapshotChecksum: UInt64 = 0
    /// Readies written but not yet synced, in order.
    var unsynced: [RaftReady] = []

    /// Issues the writes a ready asks for (not yet durable; the shell waits for an fsync).
    mutating func write(_ ready: RaftReady) {
        if ready.hardState != nil || ready.truncateFrom != nil || !ready.entries.isEmpty || ready.snapshot != nil {
            unsynced.append(ready)
            hasUnsynced = true
        }
    }

    /// A write nobody waits on (the commit index, which `RaftStorage` writes without an
    /// fsync): durable with the next fsync, lost if the node crashes first.
    mutating func writeWithoutWaiting(_ ready: RaftReady) { unsynced.append(ready) }

    /// Writes the shell waits on are not durable yet.
    private(set) var hasUnsynced = false

    /// fsync: every issued write becomes durable.
    mutating func sync() {
        for r in unsynced { apply(r, tearLast: false) }
        unsynced = []
        hasUnsynced = false
    }

    /// A crash: unsynced writes are lost, or (`tear`) partly written with the last record torn.
    mutating func crash(tear: Bool, random: inout SeededRandom) {
        defer { unsynced = []; hasUnsynced = false }
        guard tear, !unsynced.isEmpty else { return }
        let kept = Int(random.next() % UInt64(unsynced.count))
        for (i, r) in unsynced.prefix(kept + 1).enumerated() { apply(r, tearLast: i == kept) }
    }

    var first: UInt64 { snapshot?.index.value ?? 0 }

    /// Where index `i` is (or would be) in `records`.
    func position(_ i: LogIndex) -> Int { Int(i.value) - Int(first) - 1 }

    private mutating func apply(_ r: RaftReady, tearLast: Bool) {
        if let t = r.truncateFrom { records.removeSubrange(min(records.count, max(0, position(t)))...) }
        for e in r.entries where e.index.value > first {
            records.removeSubrange(min(records.count, max(0, position(e.index)))...)
            records.append(Record(entry: e, checksum: Self.checksum(e)))
        }
        if let s = r.snapshot {
            // Replaces the records it covers, as RaftStorage's one transaction does.
            let drop = min(records.count, max(0, Int(s.index.value) - Int(first)))
            records.removeFirst(drop)
            snapshot = s
            snapshotChecksum = Self.checksum(s)
        }
        if tearLast, !records.isEmpty, !r.entries.isEmpty {
            records[records.count - 1].checksum ^= 0x5a5a   // a torn write: the record is half there
            return                                          // and the state record was not reached
        }
        if let h = r.hardState { hard = h }
        lastSynced = LogIndex(first + UInt64(records.count))
        hardChecksum = Self.checksum(hard, lastSynced)
    }

    /// Damages synced records (the node is down).
    mutating func damage(_ fault: StorageFault, random: inout SeededRandom) {
        switch fault {
        case .wipe: self = RaftSimDisk()
        case .flip:
            guard !records.isEmpty else { hardChecksum ^= 1; return }
            let i = Int(random.next() % UInt64(records.count))
            if records[i].entry.command.isEmpty { records[i].entry.term = Term(records[i].entry.term.value ^ 1) }
            else {
                let b = Int(random.next() % UInt64(records[i].entry.command.count))
                records[i].entry.command[b] ^= UInt8(1 << (random.next() % 8))
            }
        case .truncate:
            let lose = 1 + Int(random.next() % UInt64(max(1, min(records.count, 32))))
            records.removeLast(min(lose, records.count))
        }
    }

    enum LoadResult { case ok(HardState, RaftSnapshot?, [LogEntry]), corrupt(String) }

    /// What a restart reads, every record verified.
    func load() -> LoadResult {
        guard hardChecksum == Self.checksum(hard, lastSynced) else { return .corrupt("the state record fails its checksum") }
        if let s = snapshot, snapshotChecksum != Self.checksum(s) { return .corrupt("the snapshot fails its checksum") }
        var log: [LogEntry] = []
        log.reserveCapacity(records.count)
        for r in records {
            guard r.checksum == Self.checksum(r.entry) else { return .corrupt("log entry \(r.entry.index) fails its checksum") }
            guard r.entry.index.value == first + UInt64(log.count) + 1 else { return .corrupt("a gap before entry \(r.entry.index)") }
            log.append(r.entry)
        }
        guard first + UInt64(log.count) >= lastSynced.value else { return .corrupt("the log ends at \(first + UInt64(log.count)), before \(lastSynced)") }
        return .ok(hard, snapshot, log)
    }

    /// FNV-1a of the record's fields (the simulator's stand-in for `RaftStorage`'s BLAKE2b).
    static func checksum(_ e: LogEntry) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        @inline(__always) func mix(_ x: UInt64) { h = (h ^ x) &* 0x100_0000_01b3 }
        mix(e.index.value); mix(e.term.value); mix(UInt64(e.kind.rawValue))
        for b in e.command { mix(UInt64(b)) }
        return h
    }

    static func checksum(_ s: RaftSnapshot) -> UInt64 {
        var h = checksum(LogEntry(term: s.term, index: s.index, kind: .configuration, command: s.configuration.encoded))
        for b in s.data { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    static func checksum(_ h: HardState, _ last: LogIndex) -> UInt64 {
        var x: UInt64 = 0xcbf2_9ce4_8422_2325
        for v in [h.term.value, h.votedFor?.w0 ?? .max, h.commit.value, last.value] { x = (x ^ v) &* 0x100_0000_01b3 }
        return x
    }
}
