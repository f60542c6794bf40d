/// Every message kind on the wire, numbered in one place. Ranges are reserved per layer so
/// that a layer can add kinds without renumbering another's.
///
/// - 1...31: membership (SWIM + Lifeguard, keyring changes)
/// - 32...63: event log replication
/// - 64...95: consensus
/// - 96...127: forwarded client commands and log streaming
public enum MessageKind: UInt8, CaseIterable, Sendable {
    case ping = 1
    case pingRequest = 2
    case ack = 3
    case nack = 4
    case pushPull = 5
    case keyringCommand = 6
    case keyringReply = 7
    case gossip = 8
    case eventPush = 32
    case eventDigest = 33
    case eventBatch = 34
    /// Lazy announcement of event ids (Plumtree IHAVE).
    case eventIHave = 35
    /// Request for announced events, making the link eager (Plumtree GRAFT).
    case eventGraft = 36
    /// The link delivered duplicates: make it lazy (Plumtree PRUNE).
    case eventPrune = 37
    /// Incremental anti-entropy digest: only origins whose marks changed for that peer.
    case eventDigestDelta = 38
    case raftRequestVote = 64
    case raftVoteResponse = 65
    case raftAppendEntries = 66
    case raftAppendResponse = 67
    case raftTimeoutNow = 68
    case raftInstallSnapshot = 69
    case raftSnapshotResponse = 70
    case commandForward = 96
    case commandReply = 97
    /// A question to one member about its node (instances, a log chunk, statistics),
    /// asked over a TCP exchange and answered on the same connection by `nodeReply`.
    case nodeQuery = 98
    case nodeReply = 99
    /// A member asks the leader for its control state (a replica that lags or hit a gap)
    /// and gets it, at a confirmed read index, in `controlStateReply`.
    case controlStateRequest = 100
    case controlStateReply = 101
    /// A quorum read: an agent asks a voter where its log stands (`readQueryReply`),
    /// answered on the voter's socket thread.
    case readQuery = 102
    case readQueryReply = 103
}
