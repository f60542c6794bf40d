import Foundation
import MeshCore
import MeshWire

/// Every timing parameter and limit of the membership protocol, with named defaults.
/// Profiles follow memberlist's `DefaultLANConfig`/`DefaultWANConfig`/`DefaultLocalConfig`.
public struct MembershipSettings: Sendable, Equatable {
    /// How often this node probes one member (SWIM protocol period).
    public var probeInterval: Duration
    /// How long to wait for a direct ack before probing indirectly. Kept under the RTT
    /// budget of the network; stretched by the local health multiplier.
    public var probeTimeout: Duration
    /// How many members are asked to probe indirectly (SWIM's k).
    public var indirectProbes: Int
    /// Lifeguard dynamic suspicion: the shortest suspicion timeout is
    /// `suspicionMultiplier × log10(N) × probeInterval`...
    public var suspicionMultiplier: Double
    /// ...and a fresh suspicion starts at `suspicionMaxMultiplier ×` that, shrinking as
    /// independent confirmations arrive (Lifeguard §IV-A).
    public var suspicionMaxMultiplier: Double
    /// Confirmations expected before the timeout reaches its minimum.
    public var suspicionConfirmations: Int
    /// How often queued updates are gossiped to `gossipFanout` random members.
    public var gossipInterval: Duration
    public var gossipFanout: Int
    /// Each update is sent `retransmitMultiplier × ceil(log10(N + 1))` times.
    public var retransmitMultiplier: Int
    /// Full-state exchange with one random member (memberlist push-pull); scaled up with N.
    public var pushPullInterval: Duration
    /// While some member is dead (not left), one of them is sent a push-pull this often:
    /// after a partition heals, the two sides find each other again (Serf's reconnect).
    public var reconnectInterval: Duration
    /// Lifeguard local health: the score's ceiling; timeouts are multiplied by score + 1.
    public var maxHealthScore: Int
    /// Dead and left members are forgotten after this long.
    public var reapInterval: Duration
    /// Dead members keep being gossiped to for this long (so a wrongly declared member
    /// learns and refutes), as memberlist's GossipToTheDeadTime.
    public var gossipToDeadInterval: Duration
    /// How long a leaving node keeps gossiping its leave before it stops.
    public var leavePropagation: Duration
    /// Join attempts are retried with backoff from `joinRetryBase` up to `joinRetryMax`.
    public var joinRetryBase: Duration
    public var joinRetryMax: Duration
    /// Encoded metadata (tags, API address, resources) may not exceed this.
    public var maxMetadataBytes: Int
    /// Updates waiting to be gossiped; the oldest-and-most-sent are dropped beyond it.
    public var maxQueuedUpdates: Int
    /// Bytes available in a datagram body for the message and its piggybacked updates.
    public var maxMessageBytes: Int
    /// This long before a suspicion's deadline, the suspicion is gossiped once more (on
    /// `suspicionLastCallTransmissions` messages), so a member that holds the suspect's
    /// refutation sends it back in time (see `Membership.applyAll`).
    public var suspicionLastCall: Duration = .seconds(1)
    public var suspicionLastCallTransmissions: Int = 3
    /// On average this many members that learn of a new suspicion probe the suspect next,
    /// out of their round-robin order, so confirmations (or the refutation) come quickly.
    public var suspicionProbers: Int = 3
    /// Anti-entropy's share of a node's bandwidth, in bytes per second (both directions of
    /// its own push-pulls, averaged): beyond a few thousand members, the push-pull period
    /// is stretched so that a full exchange, at `pushPullMemberBytes` per member each way,
    /// fits this budget. Keeps load per node flat in N where memberlist's log scaling
    /// alone lets it grow as N / log N.
    public var pushPullBytesPerSecond: Int = 1000
    /// The estimate of one member's entry in a full state (id, incarnation, status, name,
    /// addresses, small metadata; no coordinate), for the budget above.
    public static let pushPullMemberBytes = 64

    /// A LAN: sub-millisecond to few-millisecond round trips.
    public static let lan = MembershipSettings(
        probeInterval: .seconds(1), probeTimeout: .milliseconds(500), indirectProbes: 5,
        suspicionMultiplier: 1.5, suspicionMaxMultiplier: 2, suspicionConfirmations: 3,
        gossipInterval: .milliseconds(200), gossipFanout: 3, retransmitMultiplier: 4,
        pushPullInterval: .seconds(30), reconnectInterval: .seconds(5), maxHealthScore: 8,
        reapInterval: .seconds(3600), gossipToDeadInterval: .seconds(30), leavePropagation: .seconds(1),
        joinRetryBase: .seconds(1), joinRetryMax: .seconds(30),
        maxMetadataBytes: 512, maxQueuedUpdates: 4096, maxMessageBytes: WireLimits.maxDatagramBodyBytes)

    /// A WAN or a lossy wireless mesh: longer timeouts, more patience before declaring dead.
    public static let wan = MembershipSettings(
        probeInterval: .seconds(5), probeTimeout: .seconds(3), indirectProbes: 3,
        suspicionMultiplier: 6, suspicionMaxMultiplier: 2, suspicionConfirmations: 3,
        gossipInterval: .milliseconds(500), gossipFanout: 4, retransmitMultiplier: 4,
        pushPullInterval: .seconds(60), reconnectInterval: .seconds(30), maxHealthScore: 8,
        reapInterval: .seconds(3600), gossipToDeadInterval: .seconds(60), leavePropagation: .seconds(3),
        joinRetryBase: .seconds(2), joinRetryMax: .seconds(60),
        maxMetadataBytes: 512, maxQueuedUpdates: 4096, maxMessageBytes: WireLimits.maxDatagramBodyBytes,
        suspicionLastCall: .seconds(3), suspicionLastCallTransmissions: 3)

    /// One machine (loopback tests and demos): fast, yet patient enough for several agents
    /// sharing two cores (memberlist's local profile: 1 s probes, 200 ms timeout, ×3 suspicion).
    public static let local = MembershipSettings(
        probeInterval: .milliseconds(1000), probeTimeout: .milliseconds(300), indirectProbes: 3,
        suspicionMultiplier: 3, suspicionMaxMultiplier: 3, suspicionConfirmations: 3,
        gossipInterval: .milliseconds(100), gossipFanout: 3, retransmitMultiplier: 3,
        pushPullInterval: .seconds(10), reconnectInterval: .seconds(3), maxHealthScore: 4,
        reapInterval: .seconds(600), gossipToDeadInterval: .seconds(10), leavePropagation: .milliseconds(500),
        joinRetryBase: .milliseconds(200), joinRetryMax: .seconds(5),
        maxMetadataBytes: 512, maxQueuedUpdates: 4096, maxMessageBytes: WireLimits.maxDatagramBodyBytes,
        suspicionLastCall: .milliseconds(500), suspicionLastCallTransmissions: 3)

    /// The shortest suspicion timeout for a mesh of `n` members.
    public func minSuspicionTimeout(members n: Int) -> Duration {
        let nodeScale = max(1.0, log10(Double(max(n, 1))))
        return probeInterval.scaled(by: suspicionMultiplier * nodeScale)
    }

    /// The longest (initial) suspicion timeout for a mesh of `n` members.
    public func maxSuspicionTimeout(members n: Int) -> Duration {
        minSuspicionTimeout(members: n).scaled(by: suspicionMaxMultiplier)
    }

    /// How many times each update is retransmitted in a mesh of `n` members.
    public func retransmitLimit(members n: Int) -> Int {
        retransmitMultiplier * Int(ceil(log10(Double(n + 1))))
    }

    /// The push-pull period, stretched for large meshes: memberlist's pushPullScale (one
    /// more interval per doubling beyond 32 members), or longer where a full exchange
    /// would exceed `pushPullBytesPerSecond`.
    public func pushPullPeriod(members n: Int) -> Duration {
        guard n > 32 else { return pushPullInterval }
        let scaled = pushPullInterval.scaled(by: ceil(log2(Double(n)) - log2(32.0)) + 1)
        let exchangeBytes = 2 * n * Self.pushPullMemberBytes
        let budgeted = Duration.seconds(exchangeBytes / max(1, pushPullBytesPerSecond))
        return max(scaled, budgeted)
    }
}
