/// Timing and limits of Raft, with named defaults.
public struct RaftSettings: Sendable, Equatable {
    /// A leader sends a heartbeat (an empty AppendEntries) this often.
    public var heartbeatInterval: Duration
    /// A quiet leader (nothing to replicate, every peer answered since the previous
    /// heartbeat) sends the next one after this instead: an idle mesh's Raft traffic is
    /// most of an idle leader's CPU. It must stay under half the election timeout, so that
    /// one lost heartbeat never starts an election. One missing answer brings back
    /// `heartbeatInterval` for the next round, so a lossy link is heartbeaten at the short
    /// interval again as soon as one round goes unanswered.
    public var idleHeartbeatInterval: Duration
    /// A follower that hears no leader for a random time in
    /// `[electionTimeout, 2 × electionTimeout)` starts a (pre-)election (Raft §5.2).
    public var electionTimeout: Duration
    /// Ask "would you vote for me?" before raising the term, so a node that was cut off
    /// cannot disrupt a healthy leader when it returns (thesis §9.6).
    public var preVote: Bool
    /// A leader that has not heard from a quorum within the last election timeout (plus
    /// one `heartbeatInterval`) steps down, so a leader cut off in a minority stops acting
    /// as one (thesis §6.2); a sliding window, checked the moment it runs out
    /// (`RaftNode.quorumContactEnds`).
    public var checkQuorum: Bool
    /// Entries and bytes in one AppendEntries.
    public var maxEntriesPerMessage: Int
    public var maxBytesPerMessage: Int
    /// AppendEntries in flight to one follower before waiting for answers (pipelining).
    public var maxInflightMessages: Int
    /// Proposals accepted but not yet committed, beyond which new ones are refused.
    public var maxUncommittedEntries: Int
    /// The shell snapshots the applied state and compacts the log once this many applied
    /// entries are in it.
    public var snapshotThresholdEntries = 8192
    /// Bytes of snapshot per InstallSnapshot message (one chunk in flight per follower).
    public var snapshotChunkBytes = 64 * 1024

    /// A LAN (or loopback): fail over within about half a second. An idle leader
    /// heartbeats every 190 ms, less than half the 400 ms election timeout, so one lost
    /// heartbeat never starts an election. Each idle round costs the leader two signed
    /// sends and two verified answers on cold caches, so the idle heartbeat sets most of an
    /// idle leader's CPU while the election timeout sets failover: the pair is chosen to
    /// keep an idle leader under 1 % of a core (the shorter pairs tried did not, reliably)
    /// with failover still under half of etcd's. The figures are in benchmarks/README.md
    /// ("Idle agent against Serf", "Raft against etcd 3.4").
    public static let lan = RaftSettings(
        heartbeatInterval: .milliseconds(50), idleHeartbeatInterval: .milliseconds(190), electionTimeout: .milliseconds(400),
        preVote: true, checkQuorum: true,
        maxEntriesPerMessage: 512, maxBytesPerMessage: 1 << 20, maxInflightMessages: 64, maxUncommittedEntries: 10_000)

    /// A WAN or lossy wireless mesh.
    public static let wan = RaftSettings(
        heartbeatInterval: .milliseconds(250), idleHeartbeatInterval: .milliseconds(250), electionTimeout: .milliseconds(2500),
        preVote: true, checkQuorum: true,
        maxEntriesPerMessage: 512, maxBytesPerMessage: 1 << 20, maxInflightMessages: 16, maxUncommittedEntries: 10_000)
}
