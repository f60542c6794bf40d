import MeshCore

/// Per-origin bounds of what a store holds: every event with `low ≤ seq ≤ high`, no gap.
/// `low` rises when retention prunes old events (the documented low-water mark: a peer
/// behind it resumes from `low`, since what was pruned is gone everywhere it was pruned).
public struct OriginMarks: Sendable, Equatable {
    public var low: EventSeq
    public var high: EventSeq
    public init(low: EventSeq, high: EventSeq) { self.low = low; self.high = high }
    /// Holds nothing yet.
    public static let empty = OriginMarks(low: EventSeq(1), high: .zero)
}

/// A filter over the log, as `meshctl events` and `GET /v1/events` take it.
public struct EventQuery: Sendable, Equatable {
    /// Events at or after this hybrid time (milliseconds since the epoch).
    public var sinceMilliseconds: UInt64?
    /// Events whose kind starts with this prefix (`workload.` matches `workload.exited`).
    public var kindPrefix: String?
    public var origin: NodeID?
    public var limit: Int

    public init(sinceMilliseconds: UInt64? = nil, kindPrefix: String? = nil, origin: NodeID? = nil, limit: Int = 1000) {
        self.sinceMilliseconds = sinceMilliseconds; self.kindPrefix = kindPrefix; self.origin = origin; self.limit = limit
    }
}

/// Where events are kept. The replication state machine reads and writes it
/// synchronously (as etcd's raft reads its `Storage`); the agent uses `SQLiteEventStore`,
/// the simulator and tests `MemoryEventStore`.
public protocol EventStore {
    /// Per-origin marks of everything held.
    func marks() throws(EventError) -> [NodeID: OriginMarks]
    /// Appends events that continue their origins' sequences (`seq == high + 1`, or any
    /// seq for an origin not yet held), atomically and durably before returning.
    mutating func append(_ events: [Event], receivedAtMilliseconds: UInt64) throws(EventError)
    /// Up to `limit` events of `origin` after `seq`, in order, at most `maxBytes` encoded.
    func events(origin: NodeID, after seq: EventSeq, limit: Int, maxBytes: Int) throws(EventError) -> [Event]
    /// Events matching `query`, oldest first.
    func query(_ query: EventQuery) throws(EventError) -> [Event]
    /// Drops the oldest events of each origin beyond the retention bounds; returns how many.
    mutating func prune(olderThanMilliseconds: UInt64?, maxBytesPerOrigin: Int?) throws(EventError) -> Int
    /// Forgets every event of `origin`: used when this node fell behind the low-water mark
    /// a peer's full digest stated (what it lacks was pruned there) and a batch from that
    /// peer resumes it from that low.
    mutating func forget(origin: NodeID) throws(EventError)
}

/// An in-memory store with the same contract as the SQLite one (for the simulator and
/// tests).
public struct MemoryEventStore: EventStore, Sendable {
    struct Log: Sendable { var low: EventSeq; var events: [Event]; var bytes: Int }
    private var logs: [NodeID: Log] = [:]

    public init() {}

    public func marks() -> [NodeID: OriginMarks] {
        logs.mapValues { OriginMarks(low: $0.low, high: EventSeq($0.low.value + UInt64($0.events.count) - 1)) }
    }

    public mutating func append(_ events: [Event], receivedAtMilliseconds: UInt64) throws(EventError) {
        var logs = self.logs   // all or nothing, as a transaction
        defer { self.logs = logs }
        let before = logs
        do { try Self.append(events, to: &logs) } catch { logs = before; throw error }
    }

    private static func append(_ events: [Event], to logs: inout [NodeID: Log]) throws(EventError) {
        for e in events {
            var log = logs[e.origin] ?? Log(low: e.seq, events: [], bytes: 0)
            let expected = EventSeq(log.low.value + UInt64(log.events.count))
            guard e.seq == expected else { throw .storage("out of order: \(e.origin)/\(e.seq), expected \(expected)") }
            log.events.append(e)
            log.bytes += e.encodedSize
            logs[e.origin] = log
        }
    }

    public func events(origin: NodeID, after seq: EventSeq, limit: Int, maxBytes: Int) -> [Event] {
        guard let log = logs[origin] else { return [] }
        let start = max(0, Int(seq.value) - Int(log.low.value) + 1)
        guard start < log.events.count else { return [] }
        var out: [Event] = [], bytes = 0
        for e in log.events[start...] {
            let size = e.encodedSize
            if out.count >= limit || (bytes + size > maxBytes && !out.isEmpty) { break }
            out.append(e); bytes += size
        }
        return out
    }

    public func query(_ q: EventQuery) -> [Event] {
        let all = logs.filter { q.origin == nil || $0.key == q.origin }.values.flatMap(\.events)
        return Array(all.filter { e in
            (q.sinceMilliseconds.map { e.time.milliseconds >= $0 } ?? true) && (q.kindPrefix.map { e.kind.hasPrefix($0) } ?? true)
        }.sorted { ($0.time, $0.origin, $0.seq) < ($1.time, $1.origin, $1.seq) }.prefix(q.limit))
    }

    public mutating func forget(origin: NodeID) { logs.removeValue(forKey: origin) }

    public mutating func prune(olderThanMilliseconds: UInt64?, maxBytesPerOrigin: Int?) -> Int {
        var removed = 0
        for (origin, var log) in logs {
            while log.events.count > 1,
                  (olderThanMilliseconds.map { log.events[0].time.milliseconds < $0 } ?? false)
                    || (maxBytesPerOrigin.map { log.bytes > $0 } ?? false) {
                log.bytes -= log.events.removeFirst().encodedSize
                log.low = log.low.next
                removed += 1
            }
            logs[origin] = log
        }
        return removed
    }
}
