import MeshWire

/// Timing and limits of event replication, with named defaults.
public struct ReplicationSettings: Sendable, Equatable {
    /// New events are batched and pushed this often...
    public var pushInterval: Duration
    /// ...to this many random live members, once per node that newly stores them
    /// (infect-and-die): the fast path.
    public var pushFanout: Int
    /// A digest exchange with one random member this often: the path that guarantees
    /// convergence, after loss, partitions and restarts.
    public var antiEntropyInterval: Duration
    /// While a peer still has more for us (a truncated batch), ask again this soon:
    /// catching up is fast but bounded per exchange, so the protocol is never starved.
    public var catchUpInterval: Duration
    /// Bytes of events in one batch (stream frame).
    public var maxBatchBytes: Int
    /// Events received ahead of a gap, held per origin until the gap fills.
    public var maxPendingPerOrigin: Int
    /// Events waiting to be pushed; beyond it new events travel by anti-entropy only.
    public var maxPushQueue: Int
    /// Verify every received event's signature (the simulator may turn this off to run
    /// thousands of nodes; the agent never does).
    public var verifySignatures: Bool

    public static let lan = ReplicationSettings(
        pushInterval: .milliseconds(50), pushFanout: 2, antiEntropyInterval: .seconds(1),
        catchUpInterval: .milliseconds(100), maxBatchBytes: 1 << 20, maxPendingPerOrigin: 1024,
        maxPushQueue: 4096, verifySignatures: true)

    public static let wan = ReplicationSettings(
        pushInterval: .milliseconds(200), pushFanout: 3, antiEntropyInterval: .seconds(5),
        catchUpInterval: .milliseconds(500), maxBatchBytes: 1 << 20, maxPendingPerOrigin: 1024,
        maxPushQueue: 4096, verifySignatures: true)

    public static let local = ReplicationSettings(
        pushInterval: .milliseconds(20), pushFanout: 2, antiEntropyInterval: .milliseconds(500),
        catchUpInterval: .milliseconds(50), maxBatchBytes: 1 << 20, maxPendingPerOrigin: 1024,
        maxPushQueue: 4096, verifySignatures: true)

    /// Body bytes of one pushed datagram.
    public var maxPushBytes: Int { WireLimits.maxDatagramBodyBytes - 4 }
}
