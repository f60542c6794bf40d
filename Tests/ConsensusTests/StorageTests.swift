@testable import Consensus
@testable import SQLiteStore
import CSQLite
import Foundation
import MeshCore
import Testing
@testable import Storage

struct StorageTests {
    func path() -> String { NSTemporaryDirectory() + "meshd-raft-\(UUID().uuidString).db" }
    let e = { (t: UInt64, i: UInt64) in LogEntry(term: Term(t), index: LogIndex(i), command: [UInt8(i), 42]) }

    @Test func readyIsPersistedAndReloaded() throws {
        let p = path()
        do {
            let s = try RaftStorage(path: p)
            try s.save(RaftReady(hardState: HardState(term: Term(3), votedFor: rid(2), commit: LogIndex(2)), entries: [e(1, 1), e(2, 2), e(3, 3)]))
            try s.save(RaftReady(truncateFrom: LogIndex(3), entries: [e(3, 3), e(3, 4)]))
        }
        let (hard, log) = try RaftStorage(path: p).load()
        #expect(hard == HardState(term: Term(3), votedFor: rid(2), commit: LogIndex(2)))
        #expect(log == [e(1, 1), e(2, 2), e(3, 3), e(3, 4)])
    }

    @Test func aFlippedBitOrALostEntryIsDetectedAtStart() throws {
        let p = path()
        try RaftStorage(path: p).save(RaftReady(hardState: HardState(term: Term(1), commit: LogIndex(3)), entries: [e(1, 1), e(1, 2), e(1, 3)]))
        // Written behind the checksums' back, with the file closed (a `RaftStorage` holds it alone).
        func tamper(_ sql: String) {
            var db: OpaquePointer?
            sqlite3_open(p, &db)
            sqlite3_exec(db, sql, nil, nil, nil)
            sqlite3_close(db)
        }
        tamper("UPDATE raft_log SET command = x'0243' WHERE idx = 2")
        #expect(throws: RaftStorageError.corrupt("log entry 2 fails its checksum")) { try RaftStorage(path: p).load() }
        tamper("DELETE FROM raft_log WHERE idx >= 2")
        #expect(throws: RaftStorageError.self) { try RaftStorage(path: p).load() }   // commit 3 but one entry left
        let s = try RaftStorage(path: p)
        try s.reset()
        #expect(try s.load().1.isEmpty)
    }

    @Test func onlyACommitIndexMoveSkipsItsOwnFsyncAndIsStillReadBack() throws {
        let p = path()
        do {
            let s = try RaftStorage(path: p)
            _ = try s.loadWithSnapshot()
            try s.save(RaftReady(hardState: HardState(term: Term(2), votedFor: rid(1), commit: .zero), entries: [e(2, 1), e(2, 2)]))
            #expect(s.unsyncedSaves == 0)
            try s.save(RaftReady(hardState: HardState(term: Term(2), votedFor: rid(1), commit: LogIndex(2))))
            #expect(s.unsyncedSaves == 1)                      // commit only: no fsync of its own
            try s.save(RaftReady(hardState: HardState(term: Term(3), votedFor: nil, commit: LogIndex(2))))
            #expect(s.unsyncedSaves == 1)                      // a new term is synced
            try s.save(RaftReady(hardState: HardState(term: Term(3), votedFor: rid(3), commit: LogIndex(2))))
            #expect(s.unsyncedSaves == 1)                      // so is a vote
        }
        let (hard, log) = try RaftStorage(path: p).load()
        #expect(hard == HardState(term: Term(3), votedFor: rid(3), commit: LogIndex(2)))
        #expect(log == [e(2, 1), e(2, 2)])
    }

    @Test func sqliteDamageIsReportedAsCorruption() throws {
        let p = path()
        try Data((0 ..< 4096).map { UInt8(truncatingIfNeeded: $0 &* 7) }).write(to: URL(fileURLWithPath: p))
        #expect { _ = try RaftStorage(path: p).loadWithSnapshot() } throws: { error in
            guard case let .corrupt(why) = error as? RaftStorageError else { return false }
            return why.contains("not a database")
        }
    }

    @Test func controlStateAppliesVarsInOrderWithLimits() throws {
        var state = ControlState()
        let set = ControlCommand(.setVar(key: "db.host", value: "10.0.0.5"), requester: "ana", via: rid(1))
        #expect(try ControlCommand.decode(set.encoded) == set)
        #expect(state.apply(LogEntry(term: Term(1), index: LogIndex(1), command: [])) == .ok)
        #expect(state.apply(LogEntry(term: Term(1), index: LogIndex(2), command: set.encoded)) == .ok)
        #expect(state.vars["db.host"] == VarEntry(value: "10.0.0.5", index: LogIndex(2)))
        let rm = ControlCommand(.removeVar(key: "nope"), requester: "ana", via: rid(1))
        #expect(state.apply(LogEntry(term: Term(1), index: LogIndex(3), command: rm.encoded)) == .refused("no variable nope"))
        #expect(ControlState.validate(.setVar(key: "has space", value: "")) != nil)
        #expect(ControlState.validate(.setVar(key: "k", value: String(repeating: "v", count: ControlLimits.maxVarValueBytes + 1))) != nil)
    }
}

@Suite struct WALPreallocationTests {
    func path() -> String { NSTemporaryDirectory() + "meshd-raft-wal-\(UUID().uuidString).db" }
    let e = { (i: UInt64) in LogEntry(term: Term(1), index: LogIndex(i), command: [UInt8(truncatingIfNeeded: i), 7]) }

    func size(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? -1
    }

    @Test func theLogIsWrittenAheadAndItsZerosAreNotRead() throws {
        let p = path()
        do {
            let s = try RaftStorage(path: p)
            #expect(size(p + "-wal") >= 4 << 20)
            try s.save(RaftReady(hardState: HardState(term: Term(1), commit: .zero), entries: (1 ... 50).map(e)))
            #expect(size(p + "-wal") >= 4 << 20)      // written over, not extended
        }
        #expect(try RaftStorage(path: p).load().1 == (1 ... 50).map(e))
    }

    @Test func lengtheningIsBestEffortAndNeverShortens() throws {
        struct Failure: SQLiteFailure { static func storage(_ message: String) -> Failure { Failure() } }
        typealias DB = SQLiteStore.SQLiteDatabase<Failure>
        #expect(!DB.lengthen(path() + "-missing", to: 4096))       // no file: nothing created
        #expect(!DB.lengthen("/proc/version", to: 1 << 20))        // unwritable: refused, no throw
        let p = path()
        try Data(repeating: 7, count: 10_000).write(to: URL(fileURLWithPath: p))
        #expect(DB.lengthen(p, to: 5_000))                           // already longer: untouched
        #expect(size(p) == 10_000)
        #expect(DB.lengthen(p, to: 600_000))
        let data = try Data(contentsOf: URL(fileURLWithPath: p))
        #expect(data.count == 600_000 && data.prefix(10_000).allSatisfy { $0 == 7 } && data.dropFirst(10_000).allSatisfy { $0 == 0 })
    }

    @Test func closingKeepsTheLengthenedLogAndEveryEntry() throws {
        let p = path()
        let s = try RaftStorage(path: p)
        try s.save(RaftReady(hardState: HardState(term: Term(1), commit: .zero), entries: (1 ... 5).map(e)))
        s.close()
        #expect(throws: RaftStorageError.io("the storage is closed")) { try s.load() }
        // SQLite deletes the log at close unless told to keep it: the next start would write its 4 MiB of zeros again.
        #expect(size(p + "-wal") == 4 << 20)
        #expect(try RaftStorage(path: p).load().1 == (1 ... 5).map(e))
    }

    @Test func aLogLeftByACrashKeepsEveryCommittedEntryWhenLengthened() throws {
        // Files copied while the store is open: what a SIGKILL leaves, frames not yet
        // checkpointed. Opening the copy lengthens its log past those frames.
        let p = path(), crashed = path()
        let s = try RaftStorage(path: p)
        try s.save(RaftReady(hardState: HardState(term: Term(1), commit: .zero), entries: (1 ... 20).map(e)))
        try s.save(RaftReady(entries: (21 ... 30).map(e)))
        let wal = try Data(contentsOf: URL(fileURLWithPath: p + "-wal"))
        // The log's frames (a 32-byte header, then 24 + 4,096 bytes each) end where its zeros begin.
        let written = wal.count - (Array(wal.reversed()).firstIndex { $0 != 0 } ?? 0)
        let used = 32 + (written - 32 + 4119) / 4120 * 4120
        try Data(contentsOf: URL(fileURLWithPath: p)).write(to: URL(fileURLWithPath: crashed))
        try wal.prefix(used).write(to: URL(fileURLWithPath: crashed + "-wal"))  // short: the zeros are lengthened again
        #expect(size(crashed + "-wal") < 4 << 20)
        let reopened = try RaftStorage(path: crashed)
        #expect(size(crashed + "-wal") >= 4 << 20)
        #expect(try reopened.load().1 == (1 ... 30).map(e))
        _ = s
    }
}
