/// What a Raft simulation event is about; `index` and `token` say which one.
enum RaftEventKind: UInt8, Sendable {
    /// Node `index`'s timer (stale unless `token` is its current wake-up token).
    case wake
    /// Deliver in-flight payload `index`.
    case deliver
    /// Node `index`'s fsync completes (stale unless `token` is its incarnation).
    case synced
    /// Apply timeline action `index`.
    case action
    /// Start crashed node `index` again (stale unless `token` is its incarnation).
    case restart
    /// Client `index` issues its next write.
    case clientWrite
    /// Client `index` gives up on write `token`.
    case clientTimeout
    /// The leader runs the voter policy.
    case policy
    /// The next random fault of a chaos schedule (`index`: the timeline action).
    case chaos
    /// The timeline ends: heal, restart every crashed node, settle.
    case settle
}

/// One scheduled event, ordered by (time, sequence number) so a seed replays exactly.
struct RaftEvent: Sendable {
    var time: Int64
    var seq: UInt64
    var kind: RaftEventKind
    var index: Int32
    var token: UInt64
}

/// A binary min-heap of `RaftEvent`s.
struct RaftEventHeap: Sendable {
    private var heap: [RaftEvent] = []
    private var nextSeq: UInt64 = 0

    var isEmpty: Bool { heap.isEmpty }

    mutating func push(_ time: Int64, _ kind: RaftEventKind, _ index: Int, token: UInt64 = 0) {
        heap.append(RaftEvent(time: time, seq: nextSeq, kind: kind, index: Int32(index), token: token))
        nextSeq &+= 1
        var c = heap.count - 1
        let item = heap[c]
        while c > 0 {
            let p = (c - 1) >> 1
            guard Self.precedes(item, heap[p]) else { break }
            heap[c] = heap[p]; c = p
        }
        heap[c] = item
    }

    mutating func pop() -> RaftEvent? {
        guard let first = heap.first else { return nil }
        let last = heap.removeLast()
        guard !heap.isEmpty else { return first }
        var p = 0
        let n = heap.count
        while true {
            var c = 2 * p + 1
            if c >= n { break }
            if c + 1 < n, Self.precedes(heap[c + 1], heap[c]) { c += 1 }
            guard Self.precedes(heap[c], last) else { break }
            heap[p] = heap[c]; p = c
        }
        heap[p] = last
        return first
    }

    @inline(__always)
    static func precedes(_ a: RaftEvent, _ b: RaftEvent) -> Bool { a.time < b.time || (a.time == b.time && a.seq < b.seq) }
}
