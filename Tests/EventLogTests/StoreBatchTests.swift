import Foundation
import MeshCore
@testable import EventLog
import Testing
@testable import Storage

/// `SQLiteEventStore.batch` (many appends, one transaction), `unsynced`, and the agent's
/// marks kept with the events.
@Suite struct StoreBatchTests {
    @Test func aBatchCommitsItsAppendsTogetherAndAFailedAppendRollsBackAlone() throws {
        let store = try SQLiteEventStore(path: tempDB())
        var a = Author()
        let e1 = a.next(), e2 = a.next()
        var gap = Author()
        _ = gap.next()
        let g2 = gap.next(), g3 = gap.next()
        try store.batch { () throws(EventError) in
            try store.append([e1], receivedAtMilliseconds: 1)
            try store.append([g2], receivedAtMilliseconds: 1)                // starts gap's origin at 2
            var refused = false
            do { try store.append([g3, g3], receivedAtMilliseconds: 1) } catch { refused = true }
            #expect(refused)
            try store.append([e2], receivedAtMilliseconds: 1)
            try store.setAgentMark("control.published", 7)
        }
        #expect(try store.marks()[a.key.nodeID] == OriginMarks(low: EventSeq(1), high: EventSeq(2)))
        #expect(try store.marks()[gap.key.nodeID] == OriginMarks(low: EventSeq(2), high: EventSeq(2)))
        #expect(try store.query(EventQuery()).count == 3)
        #expect(try store.agentMark("control.published") == 7)
        #expect(try store.agentMark("never.set") == nil)
    }

    @Test func aBatchThatThrowsLeavesNothing() throws {
        let store = try SQLiteEventStore(path: tempDB())
        var a = Author()
        let e1 = a.next()
        #expect(throws: EventError.self) {
            try store.batch { () throws(EventError) in
                try store.append([e1], receivedAtMilliseconds: 1)
                try store.setAgentMark("control.published", 3)
                throw EventError.storage("the caller gave up")
            }
        }
        #expect(try store.query(EventQuery()).isEmpty)
        #expect(try store.agentMark("control.published") == 0)
        // The store is usable afterwards, in and out of batches.
        try store.append([e1], receivedAtMilliseconds: 1)
        #expect(try store.query(EventQuery()) == [e1])
    }

    @Test func unsyncedCommitsAreStoredAndFullSyncComesBack() throws {
        let path = tempDB()
        var a = Author()
        let e1 = a.next(), e2 = a.next()
        do {
            let store = try SQLiteEventStore(path: path)
            var during: Int64 = -1
            try store.unsynced { () throws(EventError) in
                try store.append([e1], receivedAtMilliseconds: 1)
                try store.db.prepare("PRAGMA synchronous").run([]) { during = $0.int(0) }
            }
            #expect(during == 1)                        // NORMAL
            #expect(try synchronous(store) == 2)        // FULL again
            try store.append([e2], receivedAtMilliseconds: 1)
        }
        #expect(try SQLiteEventStore(path: path).query(EventQuery()) == [e1, e2])
    }

    /// A store from before the marks (schema 1) gets its `control.published` mark from the
    /// highest `index` of its control events when it is upgraded.
    @Test func theUpgradeDerivesTheControlMarkFromStoredControlEvents() throws {
        let path = tempDB()
        var a = Author()
        do {
            let store = try SQLiteEventStore(path: path)
            try store.append([a.next("control.var.set", ["index": "41"]), a.next("control.var.removed", ["index": "57"]),
                              a.next("member.joined", ["index": "99"]), a.next("control.var.set", ["key": "k"])],
                             receivedAtMilliseconds: 1)
            try store.db.execute("DROP TABLE agent_marks; DELETE FROM schema_migrations WHERE version = 2")
            #expect(try store.schemaVersion() == 1)
        }
        let upgraded = try SQLiteEventStore(path: path)
        #expect(try upgraded.schemaVersion() == 2)
        #expect(try upgraded.agentMark("control.published") == 57)
        #expect(try SQLiteEventStore(path: tempDB()).agentMark("control.published") == 0)
    }

    func synchronous(_ store: SQLiteEventStore) throws -> Int64 {
        var v: Int64 = -1
        try store.db.prepare("PRAGMA synchronous").run([]) { v = $0.int(0) }
        return v
    }
}
