import EventLog
import SQLiteStore

/// The event log's and Raft's stores speak `EventError`; a SQLite failure is
/// `EventError.storage`, or `storageFull`/`storageIOError` when the disk caused it.
extension EventError: SQLiteFailure {
    public static func disk(_ fault: SQLiteDiskFault, _ message: String) -> EventError {
        switch fault {
        case .full: .storageFull(message)
        case .ioError: .storageIOError(message)
        }
    }
}

/// The SQLite connection as the event log and Raft stores use it.
public typealias SQLiteDatabase = SQLiteStore.SQLiteDatabase<EventError>
/// A prepared statement on an event-log ``SQLiteDatabase``.
public typealias SQLiteStatement = SQLiteStore.SQLiteStatement<EventError>
