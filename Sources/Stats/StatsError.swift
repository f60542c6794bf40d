import SQLiteStore

/// Why statistics could not be stored or queried; the message says what to do.
public enum StatsError: Error, Sendable, Equatable, CustomStringConvertible, SQLiteFailure {
    case storage(String)
    case invalidRange(fromMilliseconds: Int64, toMilliseconds: Int64)

    public var description: String {
        switch self {
        case let .storage(why): "stats store: \(why); check the data directory's permissions and free space"
        case let .invalidRange(from, to): "invalid time range \(from)…\(to) ms: 'from' must not be after 'to'"
        }
    }
}
