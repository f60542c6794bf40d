import MeshCore
import MeshWire

/// What a voter tells an agent that asks for a quorum read (`readQuery`): where its own
/// log stands, read without waiting on its consensus thread.
///
/// A voter publishes it before it sends anything that depends on the log it describes
/// (before its acknowledgements), so an entry it acknowledged is in the answer.
public struct QuorumReadAnswer: Sendable, Equatable {
    /// False while this node cannot answer: it is not a voter, or its storage was reset
    /// (`RaftNode.abstaining`), or it is stopping.
    public var answering: Bool
    /// The index of the newest configuration entry of its log; with
    /// `configurationInSnapshot`, its snapshot's index (the configuration came from it).
    public var configurationIndex: LogIndex
    public var configurationInSnapshot: Bool
    /// The last index of its log, committed or not.
    public var lastIndex: LogIndex

    public init(answering: Bool, configurationIndex: LogIndex, configurationInSnapshot: Bool, lastIndex: LogIndex) {
        self.answering = answering; self.configurationIndex = configurationIndex
        self.configurationInSnapshot = configurationInSnapshot; self.lastIndex = lastIndex
    }

    public static let silent = QuorumReadAnswer(answering: false, configurationIndex: .zero, configurationInSnapshot: false, lastIndex: .zero)

    /// Where `node` stands, as it answers.
    public init(_ node: RaftNode) {
        self.init(answering: node.isVoter && !node.abstaining, configurationIndex: node.configurationIndex,
                  configurationInSnapshot: node.configurationInSnapshot, lastIndex: node.lastIndex)
    }

    public func encode(into w: inout ByteWriter) {
        w.write(answering); w.write(configurationIndex.value); w.write(configurationInSnapshot); w.write(lastIndex.value)
    }

    public static func decode(from r: inout ByteReader) throws(WireError) -> QuorumReadAnswer {
        QuorumReadAnswer(answering: try r.readBool(), configurationIndex: LogIndex(try r.readUInt64()),
                         configurationInSnapshot: try r.readBool(), lastIndex: LogIndex(try r.readUInt64()))
    }
}

/// A linearizable read answered by a majority of the voters instead of the leader (Paxos
/// quorum reads; Charapko, Ailijiang, Demirbas, "Linearizable Quorum Reads in Paxos",
/// HotStorage 2019), as a pure tally: one per read, fed the voters' answers.
///
/// The agent asks every voter of the newest configuration its control replica applied
/// (`voters`, committed at `configurationIndex`), counts the answers of voters whose own
/// newest configuration is that same entry, and once a majority counted, reads at the
/// highest last index among them: the read then waits until its replica has applied it.
///
/// Why that index covers every write committed before the read began: such a write at
/// index c > `configurationIndex` was stored by a majority of the configuration it
/// committed under. Configurations change one voter at a time (`proposeConfiguration`),
/// and the next one is proposed only once the previous one committed, so if that
/// configuration were a later one, some counted voter would hold it (any two majorities of
/// configurations one step apart intersect) and would have answered a newer
/// configuration. So it committed under `voters`, and a counted voter holds it: committed
/// entries are never removed from a voter's log. Writes at or before
/// `configurationIndex` the replica has already applied. Voters whose storage was reset
/// do not answer (their acknowledgements never counted towards commit either).
/// `forceSoleVoter`, the operator's override after a lost quorum, is outside this
/// argument, as it is outside Raft's.
///
/// The highest last index may be an entry that never commits (a deposed leader's); the
/// agent then stops waiting after a bound and asks the leader instead.
public struct QuorumReadTally: Sendable {
    public enum Outcome: Sendable, Equatable {
        /// Not enough answers yet.
        case waiting
        /// A majority answered: the replica must apply this index before the read answers.
        case readIndex(LogIndex)
        /// A majority can no longer answer in agreement: ask the leader.
        case impossible
    }

    public let voters: [NodeID]
    /// Where the replica's newest applied configuration entry is.
    public let configurationIndex: LogIndex
    /// The replica's applied index when the read began.
    public let appliedIndex: LogIndex
    var counted: [NodeID: LogIndex] = [:]
    var refused: Set<NodeID> = []
    var decided = false

    public init(voters: [NodeID], configurationIndex: LogIndex, appliedIndex: LogIndex) {
        precondition(!voters.isEmpty && configurationIndex > .zero && configurationIndex <= appliedIndex,
                     "a quorum read starts from a configuration its replica applied")
        self.voters = voters; self.configurationIndex = configurationIndex; self.appliedIndex = appliedIndex
    }

    public var majority: Int { voters.count / 2 + 1 }

    /// Whether `answer` is from a voter whose newest configuration is the replica's: the
    /// same entry, or a snapshot taken at or after it and at or before what the replica
    /// applied (so the newest configuration up to the snapshot is the replica's).
    public func agrees(_ answer: QuorumReadAnswer) -> Bool {
        guard answer.answering else { return false }
        if answer.configurationInSnapshot {
            return answer.configurationIndex >= configurationIndex && answer.configurationIndex <= appliedIndex
        }
        return answer.configurationIndex == configurationIndex
    }

    /// Counts one voter's answer (the first from each voter of `voters`; others are ignored).
    /// Returns the outcome once, then `.waiting` for whatever comes after.
    public mutating func offer(_ answer: QuorumReadAnswer, from voter: NodeID) -> Outcome {
        guard !decided, voters.contains(voter), counted[voter] == nil, !refused.contains(voter) else { return .waiting }
        if agrees(answer) { counted[voter] = answer.lastIndex } else { refused.insert(voter) }
        if counted.count >= majority {
            decided = true
            return .readIndex(counted.values.max()!)
        }
        if voters.count - refused.count < majority {
            decided = true
            return .impossible
        }
        return .waiting
    }
}
