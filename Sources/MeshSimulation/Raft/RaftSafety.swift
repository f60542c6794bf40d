import Consensus
import MeshCore

/// Raft's safety properties, checked as the simulation goes (Raft figure 3):
/// - election safety: at most one leader per term;
/// - leader completeness / no committed entry lost or changed: the entries any node has
///   committed form one sequence (`committed`), and every new leader's log holds all of it;
/// - state machine safety: what a node applies at index i is `committed[i]`, so applied
///   sequences are prefixes of each other;
/// - every write acknowledged to a client is `committed` at its index.
struct RaftSafety: Sendable {
    /// Every entry any node has committed, by index (from 1 at position 0).
    private(set) var committed: [LogEntry] = []
    /// The term in which each entry of `committed` was first seen committed: leaders of
    /// later terms must hold it (a stale leader of that term or earlier need not).
    private var committedInTerm: [Term] = []
    /// The state machine's digest after each committed entry (what a snapshot must carry).
    private(set) var digests: [UInt64] = []

    /// The digest of the applied state after `entry`, given the one before.
    static func digest(_ previous: UInt64, _ e: LogEntry) -> UInt64 {
        var h = (previous ^ e.term.value) &* 0x100_0000_01b3
        for b in e.command { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    func digest(at index: LogIndex) -> UInt64? {
        index == .zero ? 0 : (index.value <= UInt64(digests.count) ? digests[Int(index.value) - 1] : nil)
    }
    private var leaders: [Term: NodeID] = [:]
    /// Per node slot: the index up to which its log was checked against `committed`.
    private var verified: [Int: LogIndex] = [:]
    private(set) var violations: [String] = []
    private(set) var violationCount = 0
    static let maxViolationsKept = 8

    mutating func violate(_ what: String) {
        violationCount += 1
        if violations.count < Self.maxViolationsKept { violations.append(what) }
    }

    /// A node (re)started from its disk: only what it committed before is vouched for.
    mutating func restarted(slot: Int, commit: LogIndex) {
        verified[slot] = min(verified[slot, default: .zero], commit)
    }

    /// Checks one node after it handled an input; returns true when it is a leader seen for
    /// the first time in its term.
    mutating func observe(slot: Int, node n: RaftNode, at time: Double) -> Bool {
        var newLeader = false
        if n.role == .leader {
            if let other = leaders[n.term] {
                if other != n.id { violate("two leaders in term \(n.term): \(other.w0) and \(n.id.w0) at \(time) s") }
            } else {
                leaders[n.term] = n.id
                newLeader = true
            }
        }
        let from = verified[slot, default: .zero]
        // A leader's log must hold every committed entry (leader completeness); any node's
        // newly committed entries must match, or extend, the committed sequence.
        let upTo = n.role == .leader ? max(n.commitIndex, LogIndex(UInt64(committed.count))) : n.commitIndex
        guard upTo > from else { return newLeader }
        var i = from.next
        while i <= upTo {
            let k = Int(i.value) - 1
            if k < committed.count {
                if i > n.commitIndex, committedInTerm[k] >= n.term { break }   // not yet this leader's to hold
                if i <= n.snapshotIndex { i = i.next; continue }      // covered by its snapshot's digest
                guard let e = n.entry(at: i) else {
                    violate("leader \(n.id.w0) of term \(n.term) lacks committed entry \(i) at \(time) s")
                    break
                }
                if e.term != committed[k].term || e.command != committed[k].command || e.kind != committed[k].kind {
                    violate("node \(n.id.w0) holds \(i)@\(e.term) where \(i)@\(committed[k].term) was committed, at \(time) s")
                    break
                }
            } else if i <= n.commitIndex, let e = n.entry(at: i) {
                digests.append(Self.digest(digests.last ?? 0, e))
                committed.append(e)
                committedInTerm.append(n.term)
            } else { break }
            i = i.next
        }
        verified[slot] = min(n.commitIndex, i.previous)
        return newLeader
    }

    /// A node applied `entry`.
    mutating func applied(slot: Int, entry e: LogEntry, at time: Double) {
        let k = Int(e.index.value) - 1
        guard k < committed.count else { violate("node \(slot) applied \(e.index) before anyone committed it, at \(time) s"); return }
        if committed[k].term != e.term || committed[k].command != e.command {
            violate("node \(slot) applied \(e.index)@\(e.term), which differs from the committed \(e.index)@\(committed[k].term), at \(time) s")
        }
    }

    /// Whether an acknowledged write is committed at its index.
    func holds(index: LogIndex, term: Term, command: [UInt8]) -> Bool {
        let k = Int(index.value) - 1
        return k >= 0 && k < committed.count && committed[k].term == term && committed[k].command == command
    }
}
