import MeshWire

/// Timing and limits of event replication, with named defaults.
public struct ReplicationSettings: Sendable, Equatable {
    /// New events are batched and pushed along the broadcast tree this often (the eager
    /// path, Plumtree's GOSSIP).
    public var pushInterval: Duration
    /// How many random live members a node first makes its eager (tree) links; links it
    /// receives pushes on join them, links that bring duplicates are pruned to lazy, so the
    /// eager graph settles into a spanning tree. Also the number it picks again when every
    /// eager link is gone.
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
    /// Lazy announcements (IHAVE) of the ids stored since the last round go out this often...
    public var lazyInterval: Duration = .milliseconds(200)
    /// ...to this many random live members off the eager tree (the lazy links).
    public var lazyFanout: Int = 1
    /// A lazy round waits until this many ids are queued...
    public var lazyFillIDs: Int = 64
    /// ...or the oldest has waited this long. An IHAVE costs a 158-byte sealed frame
    /// however few ids it names: at N = 30 a node announces 6 ids a round, and the frames
    /// cost a fifth of the event bytes. A late announcement only delays a graft, which
    /// only repairs what the tree did not deliver.
    public var maxLazyHold: Duration = .milliseconds(600)
    /// An announced event that has not arrived this long after its announcement is asked
    /// for (GRAFT) from the announcer, whose link becomes eager: the tree repairs itself.
    /// Longer than the eager path's usual lag behind the first announcement, or grafts
    /// would add links that duplicates then prune.
    public var graftTimeout: Duration = .milliseconds(800)
    /// Ids waiting to be announced; beyond it they are dropped (counted): anti-entropy
    /// still covers them.
    public var maxLazyQueue: Int = 16_384
    /// Announced ids this node lacks and waits for; beyond it announcements are ignored
    /// (counted).
    public var maxMissing: Int = 16_384
    /// Announcers remembered per missing id, tried in turn one graft timeout apart.
    public var maxAnnouncersPerID: Int = 3
    /// Events sent in answer to one GRAFT at most.
    public var maxGraftEvents: Int = 256
    /// One anti-entropy round in this many sends a full digest to a random member (the
    /// safety net); the others send an incremental digest to an eager (tree) peer.
    public var fullDigestEvery: Int = 10
    /// Peers whose per-origin knowledge (what they hold, what they know we hold) is kept
    /// for incremental digests; the least recently used is forgotten first, and a peer not
    /// kept gets full digests.
    public var maxTrackedPeers: Int = 20
    /// After pruning a link for an origin, this node prunes no other link for it this long:
    /// copies already in flight on the pruned link can arrive first and make the only
    /// remaining link look redundant (both pruned, the origin would then come by grafts).
    public var pruneHoldoff: Duration = .seconds(1)
    /// While anti-entropy finds nothing to repair (no event came by a batch, no graft was
    /// needed since the previous round), its interval doubles up to this; any repair, and
    /// any change of members, brings it back to `antiEntropyInterval`. Under a steady
    /// flood the tree delivers everything and digests would cost about half the event
    /// bytes at one round a second.
    public var maxAntiEntropyInterval: Duration = .seconds(8)
    /// Anti-entropy answers leave out events younger than this (by their hybrid time
    /// against this node's wall clock): fresh events are the tree's to deliver, and a copy
    /// sent alongside would reach the peer first and make it prune its tree link.
    public var antiEntropyGrace: Duration = .seconds(2)
    /// A pushed event older than this (its hybrid time against this node's wall clock) is
    /// stored but not relayed or announced: it is a repair (a graft answer filling the gap a
    /// partition or a restart left), and relayed along the tree it reached, a second time,
    /// nodes that anti-entropy batches were already filling (duplicates after the 10-minute
    /// partition at N = 100: 0.99 → 0.92 million). Well above the tree's slowest delivery
    /// (1.8 s at N = 1,000).
    public var maxRelayAge: Duration = .seconds(10)
    /// A batch sent to a member counts as on its way for this long: a digest from that
    /// member showing less of an origin than the batch carried crossed it, and the origin
    /// is left out of the answer (with `more`, so the member asks again) instead of being
    /// sent twice. Two members catching up from each other answer each other's digests and
    /// digest replies, two answers per round built from the same marks; after the
    /// 10-minute partition at N = 100, 858,000 of the 918,000 duplicate events came by
    /// batches from the member a node was catching up from. Well above a batch's trip
    /// (a few ms to a LAN peer, a round trip or two over a WAN); a batch lost on the way is
    /// sent again once it has passed.
    public var batchInFlightHold: Duration = .seconds(1)
    /// Eager (tree) links at most; a push from yet another member is still taken, but its
    /// link stays lazy.
    public var maxEagerPeers: Int = 12
    /// Members that newly appeared (a heal, a join, this node's start) get the next full
    /// digests, at most this many of them queued.
    public var maxNewPeersQueued: Int = 8
    /// Per-link coalescing: the events queued on one link go out once they add up to this
    /// many bytes... A push costs a sealed frame (`WireLimits.frameOverheadBytes`, 158
    /// bytes) whatever it carries, so a link carrying one event of about 145 bytes a round
    /// pays more than the event again in frames. Under 3 such events a link waits; a busy
    /// link (a large mesh) fills it every round and loses no time. (640 bytes and 150 ms
    /// were tried at N = 100: no fewer bytes, slower; simulations/README.md, "Event log: what sets the figures".)
    public var pushFillBytes: Int = 400
    /// ...or until the oldest of them has waited this long (from the round it was queued
    /// on the link): thin links trade up to this much latency per hop for fewer frames.
    /// Zero: every link pushes every round.
    public var maxPushHold: Duration = .milliseconds(100)
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
