import Consensus
import MeshCore
import Synchronization

/// Linearizable reads answered by a majority of the voters (`QuorumReadTally`), kept
/// outside the consensus actor like `ForwardedReads`: the caller's thread sends the
/// `readQuery`s, the socket's thread counts the `readQueryReply`s and answers the caller
/// when its replica already holds the read index. One round trip to the voters, each
/// answered on the voter's socket thread, instead of a round trip to the leader plus the
/// leader's own heartbeat round.
///
/// Also holds what this node answers when asked (`answer`), published by the consensus
/// actor before it sends anything that depends on its log.
final class QuorumReads: Sendable {
    typealias Caller = CheckedContinuation<LogIndex?, Never>

    /// How long a quorum read waits for a majority of the voters before it asks the leader.
    /// Answers come back within a round trip (about a millisecond on a LAN); a voter that
    /// is down leaves the others to make the majority, so this bounds only a lost datagram
    /// or a majority down.
    static let answerTimeout = Duration.milliseconds(250)
    /// How long a quorum read waits for this replica to apply its read index before it asks
    /// the leader: the index can be an entry that never commits (a deposed leader's), and
    /// the event log brings committed entries to members within about `publishInterval`.
    static let applyLimit = Duration.milliseconds(500)

    /// Why a quorum read fell back to the leader, for `/metrics`.
    enum Fallback: String, CaseIterable, Sendable {
        /// The replica has applied no configuration entry it can decode since its start or
        /// its last install.
        case noConfiguration = "no_configuration"
        /// Too many voters answered with another configuration (or could not answer).
        case disagreed
        /// No majority answered within `answerTimeout`.
        case timedOut = "timed_out"
        /// The replica did not apply the read index within `applyLimit`.
        case applyWait = "apply_wait"
    }

    struct Pending: Sendable {
        var tally: QuorumReadTally
        let caller: Caller
    }

    private let pending = Mutex<[UInt64: Pending]>([:])
    private let nextID = Atomic<UInt64>(1)
    private let own = Mutex<QuorumReadAnswer>(.silent)
    private let replica = Mutex<(index: LogIndex, voters: [NodeID], applied: LogIndex)?>(nil)
    private let answeredCount = Atomic<UInt64>(0)
    private let fallbackCounts = Mutex<[Fallback: UInt64]>([:])

    /// What this node answers a `readQuery`.
    var answer: QuorumReadAnswer { own.withLock { $0 } }
    func setAnswer(_ a: QuorumReadAnswer) { own.withLock { $0 = a } }

    /// The replica's newest applied configuration and applied index, as the actor last saw.
    func setReplica(configuration: (index: LogIndex, voters: [NodeID])?, applied: LogIndex) {
        replica.withLock { $0 = configuration.map { ($0.index, $0.voters, applied) } }
    }

    /// Starts a read: its id and tally, or nil (counted) when the replica knows no configuration.
    func begin(_ caller: Caller) -> (UInt64, QuorumReadTally)? {
        guard let r = replica.withLock({ $0 }), r.index > .zero, !r.voters.isEmpty else {
            fellBack(.noConfiguration)
            return nil
        }
        let tally = QuorumReadTally(voters: r.voters, configurationIndex: r.index, appliedIndex: r.applied)
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        pending.withLock { $0[id] = Pending(tally: tally, caller: caller) }
        return (id, tally)
    }

    /// Counts an answer; returns the read's caller and outcome once it is decided.
    func offer(_ requestID: UInt64, _ answer: QuorumReadAnswer, from voter: NodeID) -> (Caller, QuorumReadTally.Outcome)? {
        pending.withLock { table in
            guard var p = table[requestID] else { return nil }
            let outcome = p.tally.offer(answer, from: voter)
            guard outcome != .waiting else { table[requestID] = p; return nil }
            table.removeValue(forKey: requestID)
            return (p.caller, outcome)
        }
    }

    /// Takes the read with this id, once (its timeout).
    func take(_ requestID: UInt64) -> Caller? { pending.withLock { $0.removeValue(forKey: requestID)?.caller } }

    func answered() { answeredCount.wrappingAdd(1, ordering: .relaxed) }
    func fellBack(_ why: Fallback) { fallbackCounts.withLock { $0[why, default: 0] += 1 } }

    /// Reads answered by a quorum, and those that fell back to the leader by reason.
    var counts: (answered: UInt64, fellBack: [Fallback: UInt64]) {
        (answeredCount.load(ordering: .relaxed), fallbackCounts.withLock { $0 })
    }
}
