@testable import Consensus
import MeshCore
import Testing

/// A member's replica applies committed entries strictly in index order, whatever order
/// and however often they arrive.
struct ControlReplicaTests {
    static func set(_ i: UInt64, _ key: String, _ value: String) -> CommittedEntry {
        CommittedEntry(LogEntry(term: Term(1), index: LogIndex(i),
                                command: ControlCommand(.setVar(key: key, value: value), requester: "local", via: rid(1)).encoded))
    }
    static func noop(_ i: UInt64) -> CommittedEntry { CommittedEntry(LogEntry(term: Term(1), index: LogIndex(i), command: [])) }
    static func config(_ i: UInt64) -> CommittedEntry {
        CommittedEntry(LogEntry(term: Term(1), index: LogIndex(i), kind: .configuration, command: RaftConfiguration(voters: [rid(1)]).encoded))
    }
    func at(_ s: Int) -> MeshTime { MeshTime(nanoseconds: Int64(s) * 1_000_000_000) }

    @Test func entriesApplyInIndexOrderAcrossGapsAndDuplicates() {
        var r = ControlReplica(now: at(0))
        // 3 and 4 arrive before 2: held.
        let x1 = r.offer([Self.config(1)], now: at(1))
        #expect(x1.map(\.0.index) == [LogIndex(1)])
        let x2 = r.offer([Self.set(4, "a", "4"), Self.set(3, "a", "3")], now: at(2))
        #expect(x2.isEmpty)
        #expect(r.appliedIndex == LogIndex(1) && r.bufferedCount == 2 && r.knownCommit == LogIndex(4) && r.lagEntries == 3)
        // 2 fills the gap: 2, 3, 4 apply in order, the last write wins.
        let x3 = r.offer([Self.noop(2)], now: at(3))
        #expect(x3.map(\.0.index) == [LogIndex(2), LogIndex(3), LogIndex(4)])
        #expect(r.state.vars["a"]?.value == "4" && r.appliedIndex == LogIndex(4) && r.lagEntries == 0 && r.advancedAt == at(3))
        // Duplicates (a new leader publishing again, Raft and the event log both delivering) change nothing.
        let x4 = r.offer([Self.set(3, "a", "3"), Self.set(4, "a", "4")], now: at(4))
        #expect(x4.isEmpty)
        #expect(r.state.vars["a"]?.value == "4" && r.bufferedCount == 0 && r.advancedAt == at(3))
    }

    @Test func theBufferIsBoundedAndAStuckReplicaAsksForRepair() {
        var r = ControlReplica(now: at(0), settings: ControlReplicaSettings(maxBufferedEntries: 2, repairAfter: .seconds(3)))
        _ = r.offer([Self.set(2, "a", "2"), Self.set(3, "a", "3"), Self.set(4, "a", "4")], now: at(1))
        #expect(r.bufferedCount == 2 && r.dropped == 1 && r.knownCommit == LogIndex(4))
        #expect(!r.needsRepair(now: at(3)) && r.needsRepair(now: at(4)))
        // A voter's state at 3 installs; 4 was dropped, so it is still behind, but it moved.
        var voter = ControlState()
        for e in [Self.noop(1), Self.set(2, "a", "2"), Self.set(3, "a", "3")] { _ = voter.apply(e.entry) }
        let x5 = r.install(voter, at: LogIndex(3), now: at(4))
        #expect(x5)
        #expect(r.appliedIndex == LogIndex(3) && r.state.vars["a"]?.value == "3" && r.bufferedCount == 0)
        #expect(!r.needsRepair(now: at(5)) && r.needsRepair(now: at(7)))
        // An older state never goes back in time.
        let x6 = r.install(ControlState(), at: LogIndex(2), now: at(8))
        #expect(!x6)
        let x7 = r.offer([Self.set(4, "a", "4")], now: at(8))
        #expect(x7.count == 1)
        #expect(r.behindSince == nil && !r.needsRepair(now: at(100)))
    }

    @Test func anEntryThatDidNotFitItsEventStopsTheReplicaUntilAStateIsInstalled() {
        var r = ControlReplica(now: at(0))
        var big = Self.set(1, "k", String(repeating: "x", count: 2000))
        big.complete = false
        let x8 = r.offer([big, Self.set(2, "b", "2")], now: at(1))
        #expect(x8.isEmpty)
        #expect(r.appliedIndex == .zero)
        // The complete entry, from Raft, replaces the incomplete one.
        let x9 = r.offer([Self.set(1, "k", String(repeating: "x", count: 2000))], now: at(2))
        #expect(x9.count == 2)
        #expect(r.state.vars["k"]?.value.count == 2000 && r.state.vars["b"]?.value == "2")
    }
}
