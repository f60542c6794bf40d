import CSQLite
import Foundation
import Glibc
import MeshCore
import MeshWire
@testable import EventLog
@testable import Storage
@testable import SQLiteStore
import Testing

/// The event store on a full disk (issue 21: the API answered such a write 400).
///
/// The disk is made full with SQLite's `PRAGMA max_page_count`, not a mounted tmpfs: the
/// database cannot grow past the cap, so the next write that needs a page fails with
/// `SQLITE_FULL` through the same statement and commit paths as a full file system, with
/// no root, no mount to leave behind if the test dies, and at an exact point; lifting the
/// cap is the space coming back. The errno path (`ENOSPC` under an I/O error, as a full
/// tmpfs gives it) is checked on the classification itself below, and end to end by the
/// API test on a real tmpfs (`ClusterE2ETests.EventDisk`) and the chaos suite's disk-full fault.
struct StoreDiskFullTests {
    /// Caps `store`'s file at the pages it has now.
    static func fill(_ store: SQLiteEventStore) throws {
        var pages: Int64 = 0
        try store.db.prepare("PRAGMA page_count").run([]) { pages = $0.int(0) }
        try store.db.execute("PRAGMA max_page_count = \(pages)")
    }

    static func free(_ store: SQLiteEventStore) throws {
        try store.db.execute("PRAGMA max_page_count = 1073741823")
    }

    static let pad = ["pad": String(repeating: "x", count: 800)]

    @Test func aFullDiskRefusesAnAppendAsStorageFullAndTheSameAppendSucceedsOnceSpaceReturns() throws {
        let key = SigningKeyPair.generate().keyPair
        let store = try SQLiteEventStore(path: tempDB())
        var r = try Replicator(store: store, key: key, settings: .lan, random: SeededRandom(seed: 1), now: .zero)
        r.assumeOwnHistoryComplete()
        _ = try r.append(kind: "user.test", attributes: Self.pad, wallMilliseconds: 1_700_000_000_000, now: .zero)
        try Self.fill(store)
        // Room left in the pages the file has takes a few more; bounded.
        var refusal: EventError?
        var accepted = 0
        while refusal == nil, accepted < 1000 {
            do throws(EventError) {
                _ = try r.append(kind: "user.test", attributes: Self.pad, wallMilliseconds: 1_700_000_000_000, now: .zero)
                accepted += 1
            } catch {
                refusal = error
            }
        }
        let error = try #require(refusal, "\(accepted) appends of 800 bytes all fitted a capped file")
        guard case .storageFull = error else {
            Issue.record("not storageFull: \(error)")
            return
        }
        #expect(error.description.contains("disk is full") && error.description.contains("free space"), "\(error)")
        // Nothing of the refused append is held or counted: the marks are the store's.
        let high = EventSeq(UInt64(1 + accepted))
        #expect(r.localHigh == high)
        #expect(try store.marks()[key.nodeID] == OriginMarks(low: EventSeq(1), high: high))
        // Still full: refused again, the same way.
        #expect(throws: EventError.self) { try r.append(kind: "user.test", attributes: Self.pad, wallMilliseconds: 1_700_000_000_000, now: .zero) }

        try Self.free(store)
        let (e, _) = try r.append(kind: "user.test", attributes: Self.pad, wallMilliseconds: 1_700_000_000_000, now: .zero)
        #expect(e.seq == high.next, "the next seq after the refusals: none was used up")
        #expect(try store.marks()[key.nodeID]?.high == high.next)
    }

    /// A batch of events from a peer on a full disk: refused as a whole, counted, and the
    /// replicator's marks stay the store's (anti-entropy fetches them again later).
    @Test func receivedEventsOnAFullDiskAreRefusedAndFetchedAgainLater() throws {
        var author = Author()
        let events = (0 ..< 60).map { _ in author.next("user.test", at: 1_700_000_000_000, Self.pad) }
        let store = try SQLiteEventStore(path: tempDB())
        var r = try Replicator(store: store, key: nil, settings: .lan, random: SeededRandom(seed: 2), now: .zero)
        try Self.fill(store)
        let effects = r.receive(.batch(events, more: false), from: author.key.nodeID, now: .zero, wallMilliseconds: 1_700_000_000_000)
        #expect(effects.contains { if case .rejected(_, _, .storageFull) = $0 { true } else { false } }, "\(effects)")
        let stored = try store.marks()[author.key.nodeID]
        #expect(r.heldMarks[author.key.nodeID] == stored)
        try Self.free(store)
        let held = r.heldMarks[author.key.nodeID]?.high.value ?? 0
        _ = r.receive(.batch(Array(events.dropFirst(Int(held))), more: false), from: author.key.nodeID, now: .zero,
                      wallMilliseconds: 1_700_000_000_000)
        #expect(r.heldMarks[author.key.nodeID] == OriginMarks(low: EventSeq(1), high: EventSeq(60)))
    }

    /// SQLite's codes as the store's errors: no room (`SQLITE_FULL`, or an I/O error whose
    /// errno is `ENOSPC`/`EDQUOT`, as a full tmpfs gives under the WAL's shared memory),
    /// another I/O error, and anything else.
    @Test func sqliteCodesBecomeTypedDiskFaults() {
        func failure(_ rc: Int32, _ errno: Int32) -> EventError { SQLiteDatabase<EventError>.failure(rc, systemErrno: errno, "m") }
        let ioerrWrite = SQLITE_IOERR | (3 << 8), ioerrShmSize = SQLITE_IOERR | (19 << 8)
        #expect(failure(SQLITE_FULL, 0) == .storageFull("m"))
        #expect(failure(ioerrWrite, ENOSPC) == .storageFull("m"))
        #expect(failure(ioerrShmSize, EDQUOT) == .storageFull("m"))
        #expect(failure(ioerrWrite, EIO) == .storageIOError("m"))
        #expect(failure(SQLITE_CANTOPEN, ENOSPC) == .storageFull("m"))
        #expect(failure(SQLITE_CANTOPEN, EACCES) == .storage("m"))
        #expect(failure(SQLITE_CONSTRAINT, ENOSPC) == .storage("m"), "an errno left from an earlier call does not count")
    }
}
