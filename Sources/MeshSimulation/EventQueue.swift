/// What a queued event is about. The payload itself lives next to the queue (a slab of
/// deliveries, the node table, the fault timeline), so heap entries stay small.
enum EventKind: UInt8, Sendable {
    /// Wake node `index` (a timer of its membership core). Stale if `seq` is not the
    /// node's current wake-up sequence number.
    case wake
    /// Deliver the in-flight message in delivery slot `index`.
    case deliver
    /// Apply timeline action `index`.
    case action
    /// End a pause of node `index`.
    case resume
    /// Periodic invariant checks and measurements.
    case check
}

/// One scheduled event: ordered by time, then by the sequence number it was scheduled with,
/// so two runs with the same seed pop events in exactly the same order. `kind` says what it
/// is about (each engine has its own kinds), `index` which node, slot or action, and
/// `token` is free for the engine (a wake-up or incarnation stamp that makes it stale).
struct ScheduledEvent<Kind: Sendable>: Sendable {
    var time: Int64
    var seq: UInt64
    var index: Int32
    var kind: Kind
    var token: UInt64 = 0

    @inline(__always)
    static func precedes(_ a: ScheduledEvent, _ b: ScheduledEvent) -> Bool {
        a.time < b.time || (a.time == b.time && a.seq < b.seq)
    }
}

/// A binary min-heap of `ScheduledEvent`s keyed by (time, sequence number), shared by the
/// membership, event-log and Raft engines.
///
/// No allocation per event once the backing array has grown to the run's peak size.
struct EventQueue<Kind: Sendable>: Sendable {
    private var heap: [ScheduledEvent<Kind>] = []
    private(set) var nextSeq: UInt64 = 0

    init(capacity: Int = 1024) { heap.reserveCapacity(capacity) }

    var count: Int { heap.count }
    var isEmpty: Bool { heap.isEmpty }
    var peekTime: Int64? { heap.first?.time }

    /// Schedules an event and returns its sequence number.
    @discardableResult
    mutating func push(time: Int64, kind: Kind, index: Int32, token: UInt64 = 0) -> UInt64 {
        let seq = nextSeq
        nextSeq &+= 1
        heap.append(ScheduledEvent(time: time, seq: seq, index: index, kind: kind, token: token))
        siftUp(heap.count - 1)
        return seq
    }

    mutating func pop() -> ScheduledEvent<Kind>? {
        guard let first = heap.first else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            siftDown(0)
        }
        return first
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        let item = heap[child]
        while child > 0 {
            let parent = (child - 1) >> 1
            if !ScheduledEvent.precedes(item, heap[parent]) { break }
            heap[child] = heap[parent]
            child = parent
        }
        heap[child] = item
    }

    private mutating func siftDown(_ start: Int) {
        let count = heap.count
        var parent = start
        let item = heap[parent]
        while true {
            var child = 2 * parent + 1
            if child >= count { break }
            if child + 1 < count, ScheduledEvent.precedes(heap[child + 1], heap[child]) { child += 1 }
            if !ScheduledEvent.precedes(heap[child], item) { break }
            heap[parent] = heap[child]
            parent = child
        }
        heap[parent] = item
    }
}
