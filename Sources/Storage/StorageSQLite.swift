import EventLog
import SQLiteStore

/// The event log's and Raft's stores speak `EventError`; a SQLite failure is
/// `EventError.storage`.
extension EventError: SQLiteFailure {}

/// The SQLite connection as the event log and Raft stores use it.
public typealias SQLiteDatabase = SQLiteStore.SQLiteDatabase<EventError>
/// A prepared statement on an event-log ``SQLiteDatabase``.
public typealias SQLiteStatement = SQLiteStore.SQLiteStatement<EventError>
