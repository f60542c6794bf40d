import Consensus
import EventLog
import SQLiteStore
import MeshCore
import MeshWire

/// Raft's persistent state in SQLite (WAL, `synchronous=FULL`): the hard state and the
/// log, every record with a BLAKE2b checksum. `save` commits (and fsyncs) before it
/// returns, so the shell may send what the `RaftReady` carries right after.
///
/// One exception: a save that only moves the commit index (no entry, no new term or
/// vote) commits without its own fsync (`synchronous=NORMAL` for that transaction); the
/// next synced commit makes it durable with everything before it. Raft needs no durable
/// commit index (the paper keeps it in memory); the stored one only lets `load` detect a
/// log that lost synced entries, and an older value there is still a true lower bound.
/// The agent's shell therefore leaves a hard state that moved only its commit index out of
/// its saves until the stored one is a second old (`RaftShell.defaultCommitStoreInterval`).
///
/// A torn or corrupted record is detected by `load` and reported as
/// `RaftStorageError.corrupt`: the agent then starts this node empty, as a non-voter that
/// refills from the leader, instead of voting with bad state.
public final class RaftStorage {
    /// The open file and its prepared statements; nil once `close`d.
    private final class Connection {
        let db: SQLiteDatabase
        let putState, putEntry, truncate, putSnapshot, dropCompacted: SQLiteStatement

        init(path: String) throws(EventError) {
            // The agent's file alone (`exclusive`): no per-transaction file locks or shared
            // WAL index on the path of every Raft message.
            db = try SQLiteDatabase(path: path, preallocateWAL: true, exclusive: true)
            try db.execute(RaftStorage.schema)
            putState = try db.prepare("INSERT INTO raft_state (id, term, voted_for, commit_index, checksum) VALUES (1, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET term = excluded.term, voted_for = excluded.voted_for, commit_index = excluded.commit_index, checksum = excluded.checksum")
            putEntry = try db.prepare("INSERT OR REPLACE INTO raft_log (idx, term, kind, command, checksum) VALUES (?, ?, ?, ?, ?)")
            truncate = try db.prepare("DELETE FROM raft_log WHERE idx >= ?")
            putSnapshot = try db.prepare("INSERT INTO raft_snapshot (id, idx, term, configuration, data, checksum) VALUES (1, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET idx = excluded.idx, term = excluded.term, configuration = excluded.configuration, data = excluded.data, checksum = excluded.checksum")
            dropCompacted = try db.prepare("DELETE FROM raft_log WHERE idx <= ?")
        }
    }
    private var connection: Connection?
    /// The term and vote of the last save, to tell a commit-only save from one Raft needs durable.
    private var savedTerm: Term?
    private var savedVote: NodeID?
    /// Saves that committed without their own fsync (commit index only).
    public private(set) var unsyncedSaves = 0

    static let schema = """
        CREATE TABLE IF NOT EXISTS raft_state (
            id           INTEGER PRIMARY KEY CHECK (id = 1),
            term         INTEGER NOT NULL,
            voted_for    BLOB,              -- 32-byte node id, or NULL
            commit_index INTEGER NOT NULL,
            checksum     BLOB    NOT NULL   -- BLAKE2b-128 of (term, voted_for, commit_index)
        );
        CREATE TABLE IF NOT EXISTS raft_log (
            idx      INTEGER PRIMARY KEY,   -- log index, from 1
            term     INTEGER NOT NULL,
            kind     INTEGER NOT NULL,      -- 0 command, 1 configuration
            command  BLOB    NOT NULL,      -- the encoded ControlCommand (empty: a leader's no-op) or configuration
            checksum BLOB    NOT NULL       -- BLAKE2b-128 of (idx, term, kind, command)
        );
        CREATE TABLE IF NOT EXISTS raft_snapshot (
            id            INTEGER PRIMARY KEY CHECK (id = 1),
            idx           INTEGER NOT NULL, -- the last log index it covers
            term          INTEGER NOT NULL, -- the term of that entry
            configuration BLOB    NOT NULL, -- the voter set in effect there
            data          BLOB    NOT NULL, -- the encoded ControlState
            checksum      BLOB    NOT NULL  -- BLAKE2b-128 of (idx, term, configuration, data)
        );
        """

    /// Opens the file for this process alone: a second `RaftStorage` on the same path,
    /// here or in another process, fails until this one is closed.
    public init(path: String) throws(RaftStorageError) {
        do { connection = try Connection(path: path) } catch { throw Self.classify(error.description) }
    }

    /// Releases the file (`ConsensusService.stop`); every later call fails with `.io`.
    public func close() { connection = nil }

    /// The open connection, or `.io` once closed.
    private func open() throws(RaftStorageError) -> Connection {
        guard let connection else { throw .io("the storage is closed") }
        return connection
    }

    /// The database, for tests that write behind the checksums' back.
    var db: SQLiteDatabase { get throws(RaftStorageError) { try open().db } }

    /// SQLite's own words for a damaged file ("database disk image is malformed", "file is
    /// not a database"): corruption, not an I/O failure to retry.
    static let damagedFileMessages = ["malformed", "not a database"]

    /// `.corrupt` when SQLite says the file is damaged, `.io` otherwise.
    static func classify(_ message: String) -> RaftStorageError {
        damagedFileMessages.contains(where: message.contains) ? .corrupt("the database file is damaged: \(message)") : .io(message)
    }

    /// Persists what `ready` asks, in one transaction.
    public func save(_ ready: RaftReady) throws(RaftStorageError) {
        guard ready.hardState != nil || ready.truncateFrom != nil || !ready.entries.isEmpty || ready.snapshot != nil else { return }
        let commitOnly = ready.truncateFrom == nil && ready.entries.isEmpty && ready.snapshot == nil
            && ready.hardState.map { savedTerm == $0.term && savedVote == $0.votedFor } == true
        let c = try open()
        do {
            if commitOnly { try c.db.execute("PRAGMA synchronous=NORMAL") }
            defer { if commitOnly { try? c.db.execute("PRAGMA synchronous=FULL") } }
            try c.db.transaction { () throws(EventError) in
                if let h = ready.hardState {
                    try c.putState.run([.int(Int64(h.term.value)), h.votedFor.map { .blob($0.bytes) } ?? .null,
                                      .int(Int64(h.commit.value)), .blob(Self.checksum(h))])
                }
                if let t = ready.truncateFrom { try c.truncate.run([.int(Int64(t.value))]) }
                for e in ready.entries {
                    try c.putEntry.run([.int(Int64(e.index.value)), .int(Int64(e.term.value)), .int(Int64(e.kind.rawValue)),
                                      .blob(e.command), .blob(Self.checksum(e))])
                }
                if let s = ready.snapshot { try write(s, c) }
            }
        } catch { throw .io(error.description) }
        if let h = ready.hardState { savedTerm = h.term; savedVote = h.votedFor }
        if commitOnly { unsyncedSaves += 1 }
    }

    /// Persists a snapshot the node made by compacting (`RaftNode.compact`) and drops the
    /// entries it covers, in one transaction.
    public func saveSnapshot(_ s: RaftSnapshot) throws(RaftStorageError) {
        let c = try open()
        do { try c.db.transaction { () throws(EventError) in try write(s, c) } } catch { throw .io(error.description) }
    }

    private func write(_ s: RaftSnapshot, _ c: Connection) throws(EventError) {
        try c.putSnapshot.run([.int(Int64(s.index.value)), .int(Int64(s.term.value)), .blob(s.configuration.encoded),
                             .blob(s.data), .blob(Self.checksum(s))])
        try c.dropCompacted.run([.int(Int64(s.index.value))])
    }

    /// The persisted hard state and log, every checksum verified and the log gap-free
    /// (it must not hold a snapshot: `loadWithSnapshot` then).
    public func load() throws(RaftStorageError) -> (HardState, [LogEntry]) {
        let (hard, snapshot, log) = try loadWithSnapshot()
        guard snapshot == nil else { throw .corrupt("a snapshot is present; use loadWithSnapshot") }
        return (hard, log)
    }

    /// The persisted hard state, snapshot and log after it, every checksum verified and
    /// the log gap-free from the snapshot on.
    public func loadWithSnapshot() throws(RaftStorageError) -> (HardState, RaftSnapshot?, [LogEntry]) {
        var hard = HardState()
        var snapshot: RaftSnapshot?
        var log: [LogEntry] = []
        var failure: RaftStorageError?
        let db = try open().db
        do {
            // Pages that no query below would touch (free lists, index b-trees) are checked too.
            try db.prepare("PRAGMA quick_check").run([]) { row in
                let verdict = row.text(0)
                if verdict != "ok", failure == nil { failure = .corrupt("the database file is damaged: \(verdict)") }
            }
            try db.prepare("SELECT idx, term, configuration, data, checksum FROM raft_snapshot WHERE id = 1").run([]) { row in
                guard let c = try? RaftConfiguration.decode(row.blob(2)) else { failure = .corrupt("the snapshot's configuration is unreadable"); return }
                let s = RaftSnapshot(index: LogIndex(UInt64(row.int(0))), term: Term(UInt64(row.int(1))), configuration: c, data: row.blob(3))
                if row.blob(4) != Self.checksum(s) { failure = .corrupt("the snapshot fails its checksum") }
                snapshot = s
            }
            let first = snapshot?.index.value ?? 0
            try db.prepare("SELECT term, voted_for, commit_index, checksum FROM raft_state WHERE id = 1").run([]) { row in
                let voted = row.blob(1)
                let h = HardState(term: Term(UInt64(row.int(0))), votedFor: voted.isEmpty ? nil : NodeID(publicKey: voted),
                                  commit: LogIndex(UInt64(row.int(2))))
                if row.blob(3) != Self.checksum(h) { failure = .corrupt("the hard state's checksum does not match") }
                hard = h
            }
            try db.prepare("SELECT idx, term, kind, command, checksum FROM raft_log ORDER BY idx").run([]) { row in
                let kind = LogEntryKind(rawValue: UInt8(truncatingIfNeeded: row.int(2))) ?? .command
                let e = LogEntry(term: Term(UInt64(row.int(1))), index: LogIndex(UInt64(row.int(0))), kind: kind, command: row.blob(3))
                if failure == nil, row.blob(4) != Self.checksum(e) || Int64(kind.rawValue) != row.int(2) { failure = .corrupt("log entry \(e.index) fails its checksum") }
                if failure == nil, e.index.value != first + UInt64(log.count) + 1 { failure = .corrupt("log has a gap before entry \(e.index)") }
                log.append(e)
            }
        } catch { throw Self.classify(error.description) }
        if let failure { throw failure }
        savedTerm = hard.term; savedVote = hard.votedFor
        let last = (snapshot?.index.value ?? 0) + UInt64(log.count)
        guard hard.commit.value <= last else {
            throw .corrupt("commit index \(hard.commit) is past the last entry \(last): entries were lost")
        }
        return (hard, snapshot, log)
    }

    /// Empties the store (after corruption was found, before refilling from the leader).
    public func reset() throws(RaftStorageError) {
        let db = try open().db
        do { try db.execute("DELETE FROM raft_log; DELETE FROM raft_state; DELETE FROM raft_snapshot;") } catch { throw .io(error.description) }
    }

    static func checksum(_ h: HardState) -> [UInt8] {
        var w = ByteWriter()
        w.write(h.term.value); w.writeBlob(h.votedFor?.bytes ?? []); w.write(h.commit.value)
        return Checksum.blake2b(w.bytes)
    }

    static func checksum(_ s: RaftSnapshot) -> [UInt8] {
        var w = ByteWriter()
        w.write(s.index.value); w.write(s.term.value); w.writeBlob(s.configuration.encoded); w.writeBlob(s.data)
        return Checksum.blake2b(w.bytes)
    }

    static func checksum(_ e: LogEntry) -> [UInt8] {
        var w = ByteWriter()
        w.write(e.index.value); w.write(e.term.value); w.write(e.kind.rawValue); w.writeBlob(e.command)
        return Checksum.blake2b(w.bytes)
    }
}

/// Why Raft's storage could not be used.
public enum RaftStorageError: Error, Equatable, Sendable, CustomStringConvertible {
    case io(String)
    case corrupt(String)

    public var description: String {
        switch self {
        case let .io(why): "raft storage: \(why)"
        case let .corrupt(why): "raft storage is corrupt (\(why)); this node rejoins as an empty non-voter and refills from the leader"
        }
    }
}
