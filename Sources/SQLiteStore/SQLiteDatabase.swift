import CSQLite
import Glibc

/// An error type a store built on ``SQLiteDatabase`` throws: each store keeps its own typed
/// error (`EventError`, `StatsError`) and says how a storage failure is spelled in it.
public protocol SQLiteFailure: Error {
    /// A failure of SQLite itself (open, prepare, step), with SQLite's message.
    static func storage(_ message: String) -> Self
    /// A failure the disk caused (`fault`), with SQLite's message: the machine's condition,
    /// not the caller's, and one that may pass (space freed). A store that does not tell
    /// it apart gets `storage` (the default).
    static func disk(_ fault: SQLiteDiskFault, _ message: String) -> Self
}

extension SQLiteFailure {
    public static func disk(_ fault: SQLiteDiskFault, _ message: String) -> Self { storage(message) }
}

/// What a failed SQLite call says about the disk under it.
public enum SQLiteDiskFault: Sendable, Equatable {
    /// No room for the write: `SQLITE_FULL` (the file system is full, or the database
    /// reached its `max_page_count`), or an I/O error or failed open whose errno is
    /// `ENOSPC` or `EDQUOT` (SQLite reports a full disk under a write-ahead log's shared
    /// memory or a file it creates that way).
    case full
    /// Any other `SQLITE_IOERR`: the disk or file system failed a read, write or sync.
    case ioError
}

/// A small owner of one SQLite connection: prepared statements, transactions and typed
/// errors over the C API. Not thread-safe; its owner (one actor or one thread) serialises
/// access. `Failure` is the owning store's error type, so its callers see one error type.
public final class SQLiteDatabase<Failure: SQLiteFailure> {
    let handle: OpaquePointer
    public let path: String

    /// Bytes of write-ahead log written ahead for a store whose commit latency matters:
    /// SQLite's automatic checkpoint (every 1,000 pages) restarts the log from its start,
    /// so a log this long is written over rather than extended. An `fdatasync` that
    /// extends a file also commits the file system's journal (the new size); one that
    /// writes over written blocks flushes only the data, about half the cost of a commit
    /// on ext4 (measured in benchmarks/README.md, the write path's history under "Raft
    /// against etcd 3.4"). 1,000 frames of 4,120 bytes fit.
    public static var walPreallocationBytes: Int { 4 << 20 }

    /// Opens (creating if needed) the database file in WAL mode with full fsync: a commit
    /// that returned is on disk, and survives both SIGKILL of the agent and power loss.
    /// With `preallocateWAL`, the log is first lengthened with zeros to
    /// `walPreallocationBytes` (see there), as far as the disk allows; SQLite ignores what
    /// follows its last valid frame, so this changes nothing it reads.
    ///
    /// With `exclusive`, this connection takes the file for itself
    /// (`locking_mode=EXCLUSIVE`, before WAL mode is entered): no other connection, in this
    /// process or another, can open it while this one is open, and in exchange SQLite keeps
    /// the WAL index in this process's memory instead of a shared `-shm` file and takes no
    /// file locks per transaction, which are about a quarter of a synced commit's cost
    /// (measured in benchmarks/README.md, "Where a sequential write's time goes").
    public init(path: String, preallocateWAL: Bool = false, exclusive: Bool = false) throws(Failure) {
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "code \(rc)"
            let systemErrno = db.map { sqlite3_system_errno($0) } ?? 0
            if let db { sqlite3_close(db) }
            throw SQLiteDatabase.failure(rc, systemErrno: systemErrno, "cannot open \(path): \(message)")
        }
        handle = db
        self.path = path
        sqlite3_busy_timeout(db, 5000)
        if exclusive { try execute("PRAGMA locking_mode=EXCLUSIVE") }
        try execute("PRAGMA journal_mode=WAL")
        try execute("PRAGMA synchronous=FULL")
        try execute("PRAGMA foreign_keys=ON")
        if preallocateWAL {
            // Kept, lengthened, when the last connection closes, so the next start need
            // not write it again (SQLite deletes the log at close otherwise).
            var persist: Int32 = 1
            sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist)
            try execute("PRAGMA schema_version")    // a read opens (creates) the log file
            Self.lengthen(path + "-wal", to: Self.walPreallocationBytes)
        }
    }

    /// Appends zeros to an existing file up to `bytes`, then syncs it; never writes below
    /// its current end. Best effort: a full disk or a failed write leaves the file as far as
    /// it got (SQLite ignores the zeros either way) and the store works as it would without.
    @discardableResult
    static func lengthen(_ path: String, to bytes: Int) -> Bool {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }      // no log file yet: nothing to lengthen
        defer { close(fd) }
        var end = Int(lseek(fd, 0, SEEK_END))
        guard end >= 0 else { return false }
        let zeros = [UInt8](repeating: 0, count: 256 * 1024)
        while end < bytes {
            let n = zeros.withUnsafeBytes { pwrite(fd, $0.baseAddress, min($0.count, bytes - end), off_t(end)) }
            guard n > 0 else { return false }
            end += n
        }
        return fsync(fd) == 0
    }

    deinit { sqlite3_close_v2(handle) }

    /// Runs one or more statements that return no rows.
    public func execute(_ sql: String) throws(Failure) {
        var error: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &error)
        guard rc == SQLITE_OK else {
            let message = error.map { String(cString: $0) } ?? lastError
            sqlite3_free(error)
            throw failure(rc, "\(message) (in: \(sql.prefix(80)))")
        }
    }

    public func prepare(_ sql: String) throws(Failure) -> SQLiteStatement<Failure> {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt else {
            throw failure(rc, "\(lastError) (preparing: \(sql.prefix(80)))")
        }
        return SQLiteStatement(stmt, database: self)
    }

    /// Runs `body` in one transaction: committed if it returns, rolled back if it throws.
    public func transaction<T>(_ body: () throws(Failure) -> T) throws(Failure) -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    var lastError: String { String(cString: sqlite3_errmsg(handle)) }

    /// The typed failure for SQLite's result code `rc` of a call on this connection.
    func failure(_ rc: Int32, _ message: String) -> Failure {
        Self.failure(rc, systemErrno: sqlite3_system_errno(handle), message)
    }

    /// A disk fault for `SQLITE_FULL` and `SQLITE_IOERR` (and a failed open for want of
    /// space), `storage` for the rest. `systemErrno` is the errno of the connection's last
    /// failed system call, read only for the codes that come from one.
    static func failure(_ rc: Int32, systemErrno: Int32, _ message: String) -> Failure {
        let noSpace = systemErrno == ENOSPC || systemErrno == EDQUOT
        switch rc & 0xff {    // the primary code of an extended one (SQLITE_IOERR_WRITE...)
        case SQLITE_FULL: return .disk(.full, message)
        case SQLITE_IOERR: return .disk(noSpace ? .full : .ioError, message)
        case SQLITE_CANTOPEN where noSpace: return .disk(.full, message)
        default: return .storage(message)
        }
    }
}

/// A prepared statement; reset and re-bound for every use.
public final class SQLiteStatement<Failure: SQLiteFailure> {
    let stmt: OpaquePointer
    unowned let database: SQLiteDatabase<Failure>

    init(_ stmt: OpaquePointer, database: SQLiteDatabase<Failure>) { self.stmt = stmt; self.database = database }
    deinit { sqlite3_finalize(stmt) }

    /// SQLite's SQLITE_TRANSIENT: copy bound bytes now.
    private static var transient: sqlite3_destructor_type { unsafeBitCast(-1, to: sqlite3_destructor_type.self) }

    public enum Value {
        case int(Int64), text(String), blob([UInt8]), null
    }

    /// Binds values, steps through all rows calling `row` for each, and resets.
    public func run(_ values: [Value], row: ((SQLiteStatement<Failure>) throws(Failure) -> Void)? = nil) throws(Failure) {
        sqlite3_reset(stmt)
        sqlite3_clear_bindings(stmt)
        for (i, v) in values.enumerated() {
            let index = Int32(i + 1)
            switch v {
            case let .int(x): sqlite3_bind_int64(stmt, index, x)
            case let .text(s): sqlite3_bind_text(stmt, index, s, -1, Self.transient)
            case let .blob(b): b.withUnsafeBytes { _ = sqlite3_bind_blob(stmt, index, $0.baseAddress, Int32(b.count), Self.transient) }
            case .null: sqlite3_bind_null(stmt, index)
            }
        }
        while true {
            let rc = sqlite3_step(stmt)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else { throw database.failure(rc, database.lastError) }
            try row?(self)
        }
        sqlite3_reset(stmt)
    }

    public func int(_ column: Int32) -> Int64 { sqlite3_column_int64(stmt, column) }
    public func text(_ column: Int32) -> String {
        guard let p = sqlite3_column_text(stmt, column) else { return "" }
        return String(cString: p)
    }
    public func blob(_ column: Int32) -> [UInt8] {
        let n = Int(sqlite3_column_bytes(stmt, column))
        guard n > 0, let p = sqlite3_column_blob(stmt, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: n))
    }
}

/// Rows changed by the last statement on `db`.
public func sqlite3Changes<Failure>(_ db: SQLiteDatabase<Failure>) -> Int64 { Int64(sqlite3_changes(db.handle)) }
