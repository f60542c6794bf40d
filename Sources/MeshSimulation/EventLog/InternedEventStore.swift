import EventLog
import MeshCore

/// Every event of a simulated mesh, once: the origin's canonical body per (origin, seq),
/// shared by every node's `InternedEventStore`, plus what the simulator measures per event.
///
/// 1,000 nodes × 600,000 events cannot each be stored per node; since a node's store only
/// ever holds, per origin, a contiguous run `low ... high` (the `EventStore` contract), a
/// node keeps two integers per origin and reads bodies from here.
///
/// It is also the simulator's cheap authenticator: a body a node is asked to store must be
/// equal to the one its origin appended (a relay cannot alter it), which is what the real
/// Ed25519 check guarantees and costs ~50 µs per event per node.
final class EventTable {
    /// Origin index of each node id (the simulation's node order).
    let index: [NodeID: Int32]
    /// The same, without hashing: looked up for every event stored and message sent.
    let slots: OriginSlots
    /// `bodies[origin][seq - 1]`.
    private(set) var bodies: [[Event]]
    /// Virtual time (ns) each event was appended at its origin.
    private(set) var appendedAt: [[Int64]]
    /// Nodes that hold each event right now.
    var holders: [[Int32]]
    /// Virtual time it first reached every live node; -1 until then.
    var completedAt: [[Int64]]
    /// Bodies that differed from their origin's (found by `InternedEventStore.append`).
    private(set) var alterations: [String] = []
    var totalEvents = 0

    init(ids: [NodeID]) {
        var index: [NodeID: Int32] = [:]
        for (i, id) in ids.enumerated() { index[id] = Int32(i) }
        self.index = index
        var slots = OriginSlots()
        for id in ids where slots[id] == nil { slots.append(id) }
        self.slots = slots
        bodies = Array(repeating: [], count: ids.count)
        appendedAt = Array(repeating: [], count: ids.count)
        holders = Array(repeating: [], count: ids.count)
        completedAt = Array(repeating: [], count: ids.count)
    }

    @inline(__always)
    func origin(_ id: NodeID) -> Int? { slots[id] }

    func count(origin: Int) -> Int { bodies[origin].count }

    /// Checks `event` against its origin's body; the origin's own new event becomes the body.
    /// Returns false (and records why) when it differs or skips ahead of what was appended.
    func intern(_ event: Event, at now: Int64) -> Bool {
        guard let o = origin(event.origin) else {
            alterations.append("event of unknown origin \(event.origin)/\(event.seq)")
            return false
        }
        return intern(event, origin: o, at: now)
    }

    /// The same, with the origin's index known.
    func intern(_ event: Event, origin o: Int, at now: Int64) -> Bool {
        let i = Int(event.seq.value) - 1
        if i < bodies[o].count {
            if bodies[o][i] == event { return true }
            alterations.append("\(event.origin)/\(event.seq) differs from the body its origin appended")
            return false
        }
        guard i == bodies[o].count else {
            alterations.append("\(event.origin)/\(event.seq) stored before its origin appended seq \(bodies[o].count + 1)")
            return false
        }
        bodies[o].append(event)
        appendedAt[o].append(now)
        holders[o].append(0)
        completedAt[o].append(-1)
        totalEvents += 1
        return true
    }

    func body(origin: Int, seq: UInt64) -> Event { bodies[origin][Int(seq) - 1] }
}

/// A node's store in the simulator: per origin only its contiguous marks (`low ... high`);
/// bodies live once in the shared `EventTable`. Events that arrive ahead of a gap are held
/// by the `Replicator` itself (its bounded `pending` buffer, `maxPendingPerOrigin`), so
/// the store needs no sparse set: the protocol only ever appends contiguous runs.
struct InternedEventStore: EventStore {
    let table: EventTable
    /// The virtual time of the current call, for `EventTable.intern`.
    let clock: VirtualNow
    /// Per origin (the table's index): `high == 0` means nothing held.
    private(set) var low: [UInt64]
    private(set) var high: [UInt64]

    init(table: EventTable, clock: VirtualNow) {
        self.table = table; self.clock = clock
        low = [UInt64](repeating: 1, count: table.bodies.count)
        high = [UInt64](repeating: 0, count: table.bodies.count)
    }

    func marks() -> [NodeID: OriginMarks] {
        var out: [NodeID: OriginMarks] = [:]
        for (id, o) in table.index where high[Int(o)] > 0 {
            out[id] = OriginMarks(low: EventSeq(low[Int(o)]), high: EventSeq(high[Int(o)]))
        }
        return out
    }

    mutating func append(_ events: [Event], receivedAtMilliseconds: UInt64) throws(EventError) {
        // Validate the whole run first: all or nothing, as a transaction.
        // (A run is almost always one origin: a small array, not a dictionary per call.)
        var runs: [(o: Int, first: UInt64, last: UInt64)] = []
        for e in events {
            guard let o = table.origin(e.origin) else { throw .storage("unknown origin \(e.origin)") }
            let r = runs.lastIndex { $0.o == o }
            let h = r.map { runs[$0].last } ?? high[o]
            guard h == 0 || e.seq.value == h + 1 else {
                throw .storage("out of order: \(e.origin)/\(e.seq), expected \(h + 1)")
            }
            guard table.intern(e, origin: o, at: clock.nanoseconds) else { throw .storage("\(e.origin)/\(e.seq) altered") }
            if let r { runs[r].last = e.seq.value } else { runs.append((o, e.seq.value, e.seq.value)) }
        }
        for (o, first, last) in runs {
            let run = (first: first, last: last)
            if high[o] == 0 { low[o] = run.first }
            high[o] = run.last
        }
    }

    func events(origin id: NodeID, after seq: EventSeq, limit: Int, maxBytes: Int) -> [Event] {
        guard let o = table.origin(id), high[o] > 0 else { return [] }
        var s = max(seq.value + 1, low[o])
        var out: [Event] = [], bytes = 0
        while s <= high[o], out.count < limit {
            let e = table.body(origin: o, seq: s)
            let size = e.encodedSize
            if bytes + size > maxBytes, !out.isEmpty { break }
            out.append(e); bytes += size; s += 1
        }
        return out
    }

    func query(_ q: EventQuery) -> [Event] {
        var all: [Event] = []
        for o in 0 ..< high.count where high[o] > 0 {
            for s in low[o] ... high[o] {
                let e = table.body(origin: o, seq: s)
                if q.origin.map({ $0 == e.origin }) ?? true, q.sinceMilliseconds.map({ e.time.milliseconds >= $0 }) ?? true,
                   q.kindPrefix.map({ e.kind.hasPrefix($0) }) ?? true { all.append(e) }
            }
        }
        return Array(all.sorted { ($0.time, $0.origin, $0.seq) < ($1.time, $1.origin, $1.seq) }.prefix(q.limit))
    }

    mutating func prune(olderThanMilliseconds: UInt64?, maxBytesPerOrigin: Int?) -> Int {
        var removed = 0
        for o in 0 ..< high.count where high[o] > low[o] {
            var bytes = maxBytesPerOrigin == nil ? 0 : (low[o] ... high[o]).reduce(0) { $0 + table.body(origin: o, seq: $1).encodedSize }
            while low[o] < high[o] {
                let e = table.body(origin: o, seq: low[o])
                let old = olderThanMilliseconds.map { e.time.milliseconds < $0 } ?? false
                let big = maxBytesPerOrigin.map { bytes > $0 } ?? false
                guard old || big else { break }
                bytes -= e.encodedSize; low[o] += 1; removed += 1
            }
        }
        return removed
    }

    mutating func forget(origin id: NodeID) {
        guard let o = table.origin(id) else { return }
        low[o] = 1; high[o] = 0
    }

    /// Whether this store holds `origin`'s event `seq`.
    @inline(__always)
    func holds(origin o: Int, seq: UInt64) -> Bool { high[o] > 0 && seq >= low[o] && seq <= high[o] }
}

/// The simulator's current virtual time, shared with the stores it hands to replicators
/// (the `EventStore` protocol carries no time of its own).
final class VirtualNow {
    var nanoseconds: Int64 = 0
}
