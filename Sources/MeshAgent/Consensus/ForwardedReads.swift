import Consensus
import MeshCore
import Synchronization

/// Linearizable reads on an agent that is not the leader, kept outside the consensus actor
/// so they skip its thread at both ends: the caller's thread sends the read-index request
/// (`commandForward` with no command) and the mesh socket's thread answers the caller when
/// the leader's read index comes back and this replica has already applied it. Only a
/// replica that still lags takes the actor's path (`answerOnceApplied`, which waits and
/// repairs). Two thread hand-offs fewer on the path every read on a member waits on.
///
/// Request ids have the top bit set, apart from the actor's own (`nextRequestID`), so a
/// `commandReply` tells at once which table it belongs to.
final class ForwardedReads: Sendable {
    typealias Caller = CheckedContinuation<Result<LogIndex, ConsensusError>, Never>

    struct Pending: Sendable {
        let caller: Caller
        let leader: NodeID
    }

    static let firstID: UInt64 = 1 << 63
    static func owns(_ requestID: UInt64) -> Bool { requestID >= firstID }

    private let pending = Mutex<[UInt64: Pending]>([:])
    private let nextID = Atomic<UInt64>(ForwardedReads.firstID)
    private let target = Mutex<NodeID?>(nil)
    private let applied = Atomic<UInt64>(0)

    /// Where reads go: the leader as the consensus actor last saw it, nil while this node
    /// leads, none is known, or the agent is stopping (reads then take the actor's path).
    var leader: NodeID? { target.withLock { $0 } }
    func setLeader(_ leader: NodeID?) { target.withLock { $0 = leader } }

    /// The replica's applied index as the actor last published it (never ahead of it).
    var appliedIndex: LogIndex { LogIndex(applied.load(ordering: .acquiring)) }
    func setApplied(_ index: LogIndex) { applied.store(index.value, ordering: .releasing) }

    /// Registers a read sent to `leader`; returns its request id.
    func add(_ caller: Caller, leader: NodeID) -> UInt64 {
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        pending.withLock { $0[id] = Pending(caller: caller, leader: leader) }
        return id
    }

    /// Takes the read with this id, once: whoever takes it resumes its caller.
    func take(_ requestID: UInt64) -> Pending? { pending.withLock { $0.removeValue(forKey: requestID) } }

    /// Takes every read sent to another leader than `current`.
    func takeAll(notSentTo current: NodeID) -> [Pending] {
        pending.withLock { table in
            let gone = table.filter { $0.value.leader != current }
            for id in gone.keys { table.removeValue(forKey: id) }
            return Array(gone.values)
        }
    }

    var count: Int { pending.withLock { $0.count } }
}
