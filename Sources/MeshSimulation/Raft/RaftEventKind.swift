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

/// A Raft simulation event; `token` is a wake-up token or an incarnation.
typealias RaftEvent = ScheduledEvent<RaftEventKind>

extension EventQueue where Kind == RaftEventKind {
    mutating func push(_ time: Int64, _ kind: RaftEventKind, _ index: Int, token: UInt64 = 0) {
        push(time: time, kind: kind, index: Int32(index), token: token)
    }
}
