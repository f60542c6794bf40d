import EventLog
import FoundationEssentials
import MeshCore
import SQLiteStore

/// The event log in one SQLite file (WAL, `synchronous=FULL`): the real store of the
/// agent. The schema (README "Database schema") is made and upgraded by numbered
/// migrations recorded in `schema_migrations`.
public final class SQLiteEventStore: EventStore {
    let db: SQLiteDatabase
    private let insertEvent: SQLiteStatement
    private let upsertOrigin: SQLiteStatement
    private let selectAfter: SQLiteStatement
    private let selectMarks: SQLiteStatement
    private let selectAgentMark: SQLiteStatement
    private let putAgentMark: SQLiteStatement
    /// Inside `batch`: appends run as savepoints of the batch's transaction.
    private var batching = false

    /// Numbered migrations; each runs once, in order, in its own transaction.
    static let migrations: [(Int, String)] = [
        (1, """
        CREATE TABLE events (
            origin      BLOB    NOT NULL,   -- 32-byte Ed25519 public key of the node that wrote it
            seq         INTEGER NOT NULL,   -- gap-free per origin, from 1
            hlc         INTEGER NOT NULL,   -- hybrid logical clock: wall ms << 16 | logical
            kind        TEXT    NOT NULL,   -- dotted name, e.g. member.dead
            attributes  TEXT    NOT NULL,   -- JSON object of strings
            signature   BLOB    NOT NULL,   -- origin's Ed25519 signature
            received_ms INTEGER NOT NULL,   -- local wall time it was stored
            size        INTEGER NOT NULL,   -- encoded bytes, for retention
            PRIMARY KEY (origin, seq)
        ) WITHOUT ROWID;
        CREATE INDEX events_by_hlc ON events (hlc);
        CREATE INDEX events_by_kind_hlc ON events (kind, hlc);
        CREATE TABLE origins (
            origin BLOB PRIMARY KEY,        -- as events.origin
            low    INTEGER NOT NULL,        -- oldest seq held (low-water mark after pruning)
            high   INTEGER NOT NULL,        -- newest seq held
            bytes  INTEGER NOT NULL         -- encoded bytes held
        ) WITHOUT ROWID;
        """),
        (2, """
        CREATE TABLE agent_marks (
            name  TEXT PRIMARY KEY,         -- what the agent keeps track of, e.g. control.published
            value INTEGER NOT NULL          -- written in the transaction of the events it is about
        ) WITHOUT ROWID;
        INSERT INTO agent_marks (name, value)
            SELECT 'control.published', COALESCE(MAX(CAST(json_extract(attributes, '$.index') AS INTEGER)), 0)
            FROM events WHERE kind >= 'control.' AND kind < 'control.' || char(127) AND json_valid(attributes);
        """),
    ]

    public init(path: String) throws(EventError) {
        db = try SQLiteDatabase(path: path, preallocateWAL: true)
        try Self.migrate(db)
        insertEvent = try db.prepare("INSERT INTO events (origin, seq, hlc, kind, attributes, signature, received_ms, size) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        upsertOrigin = try db.prepare("""
            INSERT INTO origins (origin, low, high, bytes) VALUES (?1, ?2, ?2, ?3)
            ON CONFLICT (origin) DO UPDATE SET high = ?2, bytes = bytes + ?3 WHERE high = ?2 - 1
            """)
        selectAfter = try db.prepare("SELECT origin, seq, hlc, kind, attributes, signature, size FROM events WHERE origin = ? AND seq > ? ORDER BY seq LIMIT ?")
        selectMarks = try db.prepare("SELECT origin, low, high FROM origins")
        selectAgentMark = try db.prepare("SELECT value FROM agent_marks WHERE name = ?")
        putAgentMark = try db.prepare("INSERT INTO agent_marks (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value")
    }

    /// Runs `body` in one transaction: every `append` in it commits, and is fsynced, with
    /// the others, so a batch of appends costs one fsync instead of one each. An append
    /// that fails rolls back alone (a savepoint); the others still commit. What `body`
    /// appended is durable only once this returns: nothing about it may be sent before.
    public func batch<T>(_ body: () throws(EventError) -> T) throws(EventError) -> T {
        precondition(!batching, "event store batches do not nest")
        batching = true
        defer { batching = false }
        return try db.transaction(body)
    }

    /// Runs `body` with commits that are not fsynced (`synchronous=NORMAL`; WAL mode keeps
    /// them atomic and in order): each survives a crash of the agent, but the newest may be
    /// lost on power loss or an OS crash. Only for events received from peers: this node
    /// acknowledged them to nobody, its marks are read back from the file at start, and
    /// anti-entropy fetches again whatever a power cut took. Never for this node's own
    /// events (a lost own event could have its seq reused). The next synced commit makes
    /// everything before it durable too.
    public func unsynced<T>(_ body: () throws(EventError) -> T) throws(EventError) -> T {
        try db.execute("PRAGMA synchronous=NORMAL")
        defer { try? db.execute("PRAGMA synchronous=FULL") }
        return try body()
    }

    /// A number the agent keeps with the events (`agent_marks`); nil when never set.
    public func agentMark(_ name: String) throws(EventError) -> UInt64? {
        var value: UInt64?
        try selectAgentMark.run([.text(name)]) { value = UInt64(max(0, $0.int(0))) }
        return value
    }

    /// Sets a mark; inside `batch`, in the batch's transaction (durable with its events).
    public func setAgentMark(_ name: String, _ value: UInt64) throws(EventError) {
        try putAgentMark.run([.text(name), .int(Int64(bitPattern: value))])
    }

    static func migrate(_ db: SQLiteDatabase) throws(EventError) {
        try db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL)")
        var applied = Set<Int64>()
        try db.prepare("SELECT version FROM schema_migrations").run([]) { applied.insert($0.int(0)) }
        for (version, sql) in migrations where !applied.contains(Int64(version)) {
            try db.transaction { () throws(EventError) in
                try db.execute(sql)
                // SQLite's own clock stamps the migration: the module reads no clock itself.
                try db.prepare("INSERT INTO schema_migrations (version, applied_ms) VALUES (?, CAST(strftime('%s', 'now') AS INTEGER) * 1000)")
                    .run([.int(Int64(version))])
            }
        }
    }

    /// The highest migration applied.
    public func schemaVersion() throws(EventError) -> Int {
        var v: Int64 = 0
        try db.prepare("SELECT MAX(version) FROM schema_migrations").run([]) { v = $0.int(0) }
        return Int(v)
    }

    public func marks() throws(EventError) -> [NodeID: OriginMarks] {
        var out: [NodeID: OriginMarks] = [:]
        try selectMarks.run([]) { row in
            if let id = NodeID(publicKey: row.blob(0)) {
                out[id] = OriginMarks(low: EventSeq(UInt64(row.int(1))), high: EventSeq(UInt64(row.int(2))))
            }
        }
        return out
    }

    public func append(_ events: [Event], receivedAtMilliseconds: UInt64) throws(EventError) {
        guard !events.isEmpty else { return }
        try atomically { () throws(EventError) in
            for e in events {
                let size = Int64(e.encodedSize)
                try upsertOrigin.run([.blob(e.origin.bytes), .int(Int64(e.seq.value)), .int(size)])
                guard sqlite3Changes(db) == 1 else {
                    throw .storage("out of order: \(e.origin)/\(e.seq) does not continue the stored sequence")
                }
                try insertEvent.run([.blob(e.origin.bytes), .int(Int64(e.seq.value)), .int(Int64(bitPattern: e.time.raw)),
                                     .text(e.kind), .text(Self.json(e.attributes)), .blob(e.signature),
                                     .int(Int64(receivedAtMilliseconds)), .int(size)])
            }
        }
    }

    /// One transaction, or a savepoint of the enclosing `batch`.
    private func atomically(_ body: () throws(EventError) -> Void) throws(EventError) {
        guard batching else { return try db.transaction(body) }
        try db.execute("SAVEPOINT event_append")
        do {
            try body()
            try db.execute("RELEASE event_append")
        } catch {
            try? db.execute("ROLLBACK TO event_append")
            try? db.execute("RELEASE event_append")
            throw error
        }
    }

    public func events(origin: NodeID, after seq: EventSeq, limit: Int, maxBytes: Int) throws(EventError) -> [Event] {
        var out: [Event] = [], bytes = 0
        try selectAfter.run([.blob(origin.bytes), .int(Int64(seq.value)), .int(Int64(limit))]) { row in
            let size = Int(row.int(6))
            guard out.isEmpty || bytes + size <= maxBytes else { return }
            bytes += size
            out.append(Self.event(row))
        }
        return out
    }

    public func query(_ q: EventQuery) throws(EventError) -> [Event] {
        var sql = "SELECT origin, seq, hlc, kind, attributes, signature, size FROM events WHERE 1"
        var values: [SQLiteStatement.Value] = []
        if let since = q.sinceMilliseconds { sql += " AND hlc >= ?"; values.append(.int(Int64(since << 16))) }
        if let prefix = q.kindPrefix, !prefix.isEmpty {
            // A range on the (kind, hlc) index instead of LIKE: kinds are ASCII, so every kind
            // with this prefix sorts between the prefix and the prefix followed by 0x7f.
            // With a time window, `+kind` keeps the planner on `events_by_hlc` (a bounded
            // range, already in result order: the index carries the key (origin, seq)):
            // without it SQLite walks every event of the kinds through `events_by_kind_hlc`
            // and sorts them (1 s against 20 ms for `--since 1h --kind workload.` on
            // 1,000,000 events, benchmarks/README.md).
            sql += q.sinceMilliseconds == nil ? " AND kind >= ? AND kind < ?" : " AND +kind >= ? AND +kind < ?"
            values += [.text(prefix), .text(prefix + "\u{7f}")]
        }
        if let origin = q.origin { sql += " AND origin = ?"; values.append(.blob(origin.bytes)) }
        sql += " ORDER BY hlc, origin, seq LIMIT ?"
        values.append(.int(Int64(q.limit)))
        var out: [Event] = []
        try db.prepare(sql).run(values) { out.append(Self.event($0)) }
        return out
    }

    public func prune(olderThanMilliseconds: UInt64?, maxBytesPerOrigin: Int?) throws(EventError) -> Int {
        var removed = 0
        let all = try marks()
        try atomically { () throws(EventError) in
            for (origin, m) in all.sorted(by: { $0.key < $1.key }) where m.high > m.low {
                var cut = m.low.value   // the new low: events below it go; the newest always stays
                if let t = olderThanMilliseconds {
                    try db.prepare("SELECT COALESCE(MAX(seq), 0) FROM events WHERE origin = ? AND hlc < ?")
                        .run([.blob(origin.bytes), .int(Int64(t << 16))]) { cut = max(cut, UInt64($0.int(0)) + 1) }
                }
                if let limit = maxBytesPerOrigin {
                    // Keep the newest events whose sizes sum to at most `limit`.
                    try db.prepare("""
                        SELECT COALESCE(MAX(seq), 0) FROM (SELECT seq, SUM(size) OVER (ORDER BY seq DESC) AS kept
                        FROM events WHERE origin = ?) WHERE kept > ?
                        """).run([.blob(origin.bytes), .int(Int64(limit))]) { cut = max(cut, UInt64($0.int(0)) + 1) }
                }
                cut = min(cut, m.high.value)
                guard cut > m.low.value else { continue }
                try db.prepare("DELETE FROM events WHERE origin = ? AND seq < ?").run([.blob(origin.bytes), .int(Int64(cut))])
                removed += Int(sqlite3Changes(db))
                try db.prepare("UPDATE origins SET low = ?, bytes = (SELECT COALESCE(SUM(size), 0) FROM events WHERE origin = ?1) WHERE origin = ?2")
                    .run([.int(Int64(cut)), .blob(origin.bytes)])
            }
        }
        return removed
    }

    public func forget(origin: NodeID) throws(EventError) {
        try atomically { () throws(EventError) in
            try db.prepare("DELETE FROM events WHERE origin = ?").run([.blob(origin.bytes)])
            try db.prepare("DELETE FROM origins WHERE origin = ?").run([.blob(origin.bytes)])
        }
    }

    static func event(_ row: SQLiteStatement) -> Event {
        Event(origin: NodeID(publicKey: row.blob(0)) ?? NodeID(w0: 0, w1: 0, w2: 0, w3: 0),
              seq: EventSeq(UInt64(row.int(1))), time: HybridTimestamp(raw: UInt64(bitPattern: row.int(2))),
              kind: row.text(3), attributes: attributes(row.text(4)), signature: row.blob(5))
    }

    /// The attributes as a JSON object with sorted keys. FoundationEssentials' `JSONEncoder`,
    /// not `JSONSerialization`: sorting keys there compares them through ICU's collation,
    /// which pulled ICU's code and data into every agent's memory (about 7 MB of RSS; see
    /// benchmarks/README.md, idle agent).
    static func json(_ attributes: [String: String]) -> String {
        guard let data = try? attributesEncoder.encode(attributes) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    static func attributes(_ text: String) -> [String: String] {
        (try? JSONDecoder().decode([String: String].self, from: Data(text.utf8))) ?? [:]
    }

    private static let attributesEncoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }()
}
