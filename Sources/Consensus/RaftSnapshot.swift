import MeshCore
import MeshWire

/// A snapshot of the applied state (Raft §7): everything up to and including `index`,
/// which the log no longer needs to hold. `data` is the state machine's own encoding
/// (`ControlState.snapshot`); `configuration` is the voter set in effect at `index`.
public struct RaftSnapshot: Sendable, Equatable {
    public var index: LogIndex
    public var term: Term
    public var configuration: RaftConfiguration
    public var data: [UInt8]

    public init(index: LogIndex, term: Term, configuration: RaftConfiguration, data: [UInt8]) {
        self.index = index; self.term = term; self.configuration = configuration; self.data = data
    }
}

/// One chunk of a snapshot sent by the leader to a follower that needs entries the leader
/// has compacted away (Raft §7, figure 13). Chunks go one at a time, each answered.
public struct InstallSnapshot: Sendable, Equatable {
    public var term: Term
    public var index: LogIndex
    public var lastTerm: Term
    public var configuration: RaftConfiguration
    /// Where `data` starts in the snapshot, and whether it is the last chunk.
    public var offset: UInt64
    public var data: [UInt8]
    public var done: Bool
}

/// A follower's answer to a chunk: the offset it wants next, or that it installed it.
public struct SnapshotResponse: Sendable, Equatable {
    public var term: Term
    public var index: LogIndex
    public var nextOffset: UInt64
    public var installed: Bool
}
