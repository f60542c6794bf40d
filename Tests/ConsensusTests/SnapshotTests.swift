@testable import Consensus
import CSQLite
import Foundation
import MeshCore
import MeshWire
import Testing
@testable import Storage

/// Log compaction and InstallSnapshot (Raft §7), message by message, and their storage.
struct SnapshotTests {
    static let t = MeshTime(nanoseconds: 1_000_000_000)

    /// A leader (node 1) of voters 1, 2, 3 with `commands` committed by node 3's acks, and
    /// snapshot chunks of `chunk` bytes.
    static func leader(commands: Int, chunk: Int) -> RaftNode {
        var settings = RaftSettings.lan
        settings.snapshotChunkBytes = chunk
        var l = RaftNode(id: rid(1), voters: [rid(1), rid(2), rid(3)], settings: settings, random: SeededRandom(seed: 1), now: .zero)
        _ = l.tick(now: t)
        _ = l.step(.voteResponse(VoteResponse(preVote: true, term: Term(1), granted: true)), from: rid(3), now: t)
        _ = l.step(.voteResponse(VoteResponse(preVote: false, term: Term(1), granted: true)), from: rid(3), now: t)
        for k in 0 ..< commands {
            _ = l.propose([UInt8(k)], now: t)
            _ = l.step(.appendResponse(AppendResponse(term: l.term, success: true, matchIndex: l.lastIndex, hintIndex: .zero)),
                       from: rid(3), now: t)
        }
        return l
    }

    @Test func compactionKeepsTermsAndTheConfigurationAndWaitsForApply() {
        var l = Self.leader(commands: 3, chunk: 2)
        #expect(l.commitIndex == LogIndex(4) && l.applied == LogIndex(4))
        #expect(l.compact(through: LogIndex(5), data: [1]) == nil)               // not applied: refused
        let s = l.compact(through: LogIndex(3), data: [9, 9])
        #expect(s == RaftSnapshot(index: LogIndex(3), term: Term(1), configuration: RaftConfiguration(voters: [rid(1), rid(2), rid(3)]), data: [9, 9]))
        #expect(l.log.map(\.index) == [LogIndex(4)])
        #expect(l.lastIndex == LogIndex(4) && l.term(at: LogIndex(3)) == Term(1) && l.term(at: LogIndex(2)) == nil)
        #expect(l.entry(at: LogIndex(4))?.command == [2])
    }

    @Test func aNewFollowerIsSentTheSnapshotInBoundedChunksThenTheRest() {
        var l = Self.leader(commands: 3, chunk: 2)
        _ = l.compact(through: LogIndex(4), data: [10, 11, 12, 13, 14])
        _ = l.propose([7], now: Self.t)                                        // index 5, after the snapshot
        var f = RaftNode(id: rid(2), voters: [rid(1), rid(2), rid(3)], settings: l.settings, random: SeededRandom(seed: 2), now: .zero)
        var toFollower = l.tick(now: Self.t + .milliseconds(60)).messages.filter { $0.to == rid(2) }.map(\.message)
        var chunks: [InstallSnapshot] = []
        var installed: RaftSnapshot?
        for _ in 0 ..< 20 where !toFollower.isEmpty {
            var replies: [RaftMessage] = []
            for m in toFollower {
                if case let .installSnapshot(c) = m { chunks.append(c) }
                let r = f.step(m, from: rid(1), now: Self.t)
                if let s = r.snapshot { installed = s; #expect(r.committed.isEmpty) }
                replies += r.messages.map(\.message)
            }
            toFollower = replies.flatMap { l.step($0, from: rid(2), now: Self.t).messages.filter { $0.to == rid(2) }.map(\.message) }
        }
        #expect(chunks.map(\.offset) == [0, 2, 4])
        #expect(chunks.allSatisfy { $0.data.count <= 2 } && chunks.map(\.done) == [false, false, true])
        #expect(installed?.data == [10, 11, 12, 13, 14] && installed?.index == LogIndex(4))
        #expect(f.snapshotIndex == LogIndex(4) && f.lastIndex == LogIndex(5) && f.entry(at: LogIndex(5))?.command == [7])
        #expect(l.matchIndex[rid(2)] == LogIndex(5))
    }

    @Test func aChunkOutOfOrderIsAnsweredWithTheOffsetWanted() {
        var f = RaftNode(id: rid(2), voters: [rid(1), rid(2), rid(3)], settings: .lan, random: SeededRandom(seed: 2), now: .zero)
        let c = RaftConfiguration(voters: [rid(1), rid(2), rid(3)])
        let first = InstallSnapshot(term: Term(2), index: LogIndex(9), lastTerm: Term(2), configuration: c, offset: 0, data: [1, 2], done: false)
        _ = f.step(.installSnapshot(first), from: rid(1), now: Self.t)
        var skipped = first; skipped.offset = 4; skipped.data = [5]; skipped.done = true
        let r = f.step(.installSnapshot(skipped), from: rid(1), now: Self.t)
        #expect(r.messages.first?.message == .snapshotResponse(SnapshotResponse(term: Term(2), index: LogIndex(9), nextOffset: 2, installed: false)))
        #expect(r.snapshot == nil && f.snapshotIndex == .zero)
    }

    @Test func aSnapshotIsPersistedWithItsChecksumAndTheNodeRestartsFromIt() throws {
        let p = NSTemporaryDirectory() + "meshd-raft-\(UUID().uuidString).db"
        let entries = (1 ... 5).map { LogEntry(term: Term(1), index: LogIndex(UInt64($0)), command: [UInt8($0)]) }
        let snap = RaftSnapshot(index: LogIndex(3), term: Term(1), configuration: RaftConfiguration(voters: [rid(1)]), data: [7, 7, 7])
        do {
            let s = try RaftStorage(path: p)
            try s.save(RaftReady(hardState: HardState(term: Term(1), commit: LogIndex(5)), entries: entries))
            try s.saveSnapshot(snap)
        }
        let (hard, loaded, log) = try RaftStorage(path: p).loadWithSnapshot()
        #expect(loaded == snap && log == Array(entries[3...]) && hard.commit == LogIndex(5))
        let n = RaftNode(id: rid(1), voters: [], settings: .lan, random: SeededRandom(seed: 1), now: .zero,
                         hardState: hard, snapshot: loaded, log: log)
        #expect(n.applied == LogIndex(3) && n.lastIndex == LogIndex(5) && n.voters == [rid(1)])
        var db: OpaquePointer?
        sqlite3_open(p, &db)
        sqlite3_exec(db, "UPDATE raft_snapshot SET data = x'070708'", nil, nil, nil)
        sqlite3_close(db)
        #expect(throws: RaftStorageError.corrupt("the snapshot fails its checksum")) { try RaftStorage(path: p).loadWithSnapshot() }
    }
}

extension SnapshotTests {
    @Test func theControlStateRoundTripsThroughItsSnapshot() throws {
        var state = ControlState()
        for (i, k) in ["b", "a", "c"].enumerated() {
            let set = ControlCommand(.setVar(key: k, value: "v\(i)"), requester: "ana", via: rid(1))
            _ = state.apply(LogEntry(term: Term(1), index: LogIndex(UInt64(i + 1)), command: set.encoded))
        }
        let restored = try ControlState(snapshot: state.snapshot)
        #expect(restored == state)
        #expect(restored.snapshot == state.snapshot)
        #expect(throws: WireError.self) { try ControlState(snapshot: Array(state.snapshot.dropLast())) }
    }
}
