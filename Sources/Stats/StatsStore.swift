import MeshCore
import SQLiteStore

/// One stored point of node history: a raw sample, or the average of a bucket of them.
public struct StoredSample: Sendable, Equatable, Codable {
    /// A sample as taken, or the average of a `downsampleBucket`.
    public enum Resolution: String, Sendable, Codable { case raw, downsampled }
    /// Wall-clock time (ms since 1970); for a downsampled point, the bucket's start.
    public var wallMilliseconds: Int64
    public var resolution: Resolution
    public var cores: Int?
    public var cpuUtilisation: Double?
    public var load1: Double?, load5: Double?, load15: Double?
    public var memoryTotalBytes: UInt64?, memoryAvailableBytes: UInt64?
    public var swapTotalBytes: UInt64?, swapFreeBytes: UInt64?
    public var diskTotalBytes: UInt64?, diskFreeBytes: UInt64?
    public var receiveBytesPerSecond: Double?, transmitBytesPerSecond: Double?
    /// The hottest zone.
    public var temperatureCelsius: Double?
}

/// Node history in SQLite: raw samples for `rawRetention`, then averages per
/// `downsampleBucket` kept for `downsampledRetention`.
///
/// Values are stored as integers with fixed scales (‰ for ratios, milli-units for load
/// and °C) so averages stay exact enough and no float column accessor is needed. Uses the
/// shared `SQLiteDatabase` (module SQLiteStore) with `synchronous=NORMAL`: in WAL mode a power loss may
/// drop the last few samples, which is acceptable for statistics and spares an fsync per
/// sample. Not thread-safe: owned by ``StatsSampler``.
public final class StatsStore {
    /// Column name, scale (stored = value × scale).
    static let columns: [(name: String, scale: Double)] = [
        ("cores", 1), ("cpu_permille", 1000), ("load1_milli", 1000), ("load5_milli", 1000), ("load15_milli", 1000),
        ("mem_total_bytes", 1), ("mem_available_bytes", 1), ("swap_total_bytes", 1), ("swap_free_bytes", 1),
        ("disk_total_bytes", 1), ("disk_free_bytes", 1), ("rx_bytes_per_s", 1), ("tx_bytes_per_s", 1),
        ("temp_millicelsius", 1000),
    ]

    private let db: SQLiteDatabase<StatsError>
    private let settings: StatsSettings
    private let insertRaw: SQLiteStatement<StatsError>
    private let selectRange: SQLiteStatement<StatsError>

    public init(path: String, settings: StatsSettings = StatsSettings()) throws(StatsError) {
        self.settings = settings
        db = try SQLiteDatabase(path: path)
        try db.execute("PRAGMA synchronous=NORMAL")
        let cols = Self.columns.map { "\($0.name) INTEGER" }.joined(separator: ", ")
        try db.execute("""
            CREATE TABLE IF NOT EXISTS samples_raw (t_ms INTEGER NOT NULL, \(cols));
            CREATE INDEX IF NOT EXISTS samples_raw_t ON samples_raw (t_ms);
            CREATE TABLE IF NOT EXISTS samples_downsampled (t_ms INTEGER PRIMARY KEY, \(cols));
            """)
        let names = Self.columns.map(\.name)
        insertRaw = try db.prepare("INSERT INTO samples_raw (t_ms, \(names.joined(separator: ", "))) VALUES (?\(String(repeating: ", ?", count: names.count)))")
        let select = names.map { "COALESCE(\($0), -1)" }.joined(separator: ", ")
        selectRange = try db.prepare("""
            SELECT t_ms, 0, \(select) FROM samples_raw WHERE t_ms >= ?1 AND t_ms <= ?2
            UNION ALL
            SELECT t_ms, 1, \(select) FROM samples_downsampled WHERE t_ms >= ?1 AND t_ms <= ?2
            ORDER BY 1 LIMIT ?3
            """)
    }

    /// Stores one sample.
    public func insert(_ stats: NodeStats, wallMilliseconds: Int64) throws(StatsError) {
        let s = stats.snapshot
        let values: [Double?] = [
            s.cpu.map { Double($0.perCore.count) }, stats.cpuUtilisation,
            s.load?.one, s.load?.five, s.load?.fifteen,
            s.memory.map { Double($0.totalBytes) }, s.memory?.availableBytes.map { Double($0) },
            s.memory?.swapTotalBytes.map { Double($0) }, s.memory?.swapFreeBytes.map { Double($0) },
            s.disk.map { Double($0.totalBytes) }, s.disk.map { Double($0.freeBytes) },
            stats.receiveBytesPerSecond, stats.transmitBytesPerSecond,
            s.temperatures.map(\.celsius).max(),
        ]
        var bound: [SQLiteStatement<StatsError>.Value] = [.int(wallMilliseconds)]
        for (value, column) in zip(values, Self.columns) {
            bound.append(value.map { .int(Int64(($0 * column.scale).rounded())) } ?? .null)
        }
        try insertRaw.run(bound)
    }

    /// Averages raw samples older than `rawRetention` into buckets (whole buckets only, so
    /// each bucket is averaged once), deletes them, and deletes buckets older than
    /// `downsampledRetention`.
    public func compact(nowWallMilliseconds now: Int64) throws(StatsError) {
        let bucket = max(1, settings.downsampleBucket.nanoseconds / 1_000_000)
        let cutoff = (now - settings.rawRetention.nanoseconds / 1_000_000) / bucket * bucket
        let oldest = now - settings.downsampledRetention.nanoseconds / 1_000_000
        let names = Self.columns.map(\.name)
        let averages = names.map { "CAST(ROUND(AVG(\($0))) AS INTEGER)" }.joined(separator: ", ")
        try db.transaction { () throws(StatsError) in
            try db.execute("""
                INSERT OR REPLACE INTO samples_downsampled (t_ms, \(names.joined(separator: ", ")))
                SELECT (t_ms / \(bucket)) * \(bucket), \(averages) FROM samples_raw
                WHERE t_ms < \(cutoff) GROUP BY t_ms / \(bucket);
                DELETE FROM samples_raw WHERE t_ms < \(cutoff);
                DELETE FROM samples_downsampled WHERE t_ms < \(oldest);
                """)
        }
    }

    /// Points with `from <= t <= to` (ms since 1970), oldest first, at most `maxQueryRows`:
    /// raw samples of the last hour and bucket averages before that.
    public func query(fromMilliseconds from: Int64, toMilliseconds to: Int64) throws(StatsError) -> [StoredSample] {
        guard from <= to else { throw .invalidRange(fromMilliseconds: from, toMilliseconds: to) }
        var out: [StoredSample] = []
        try selectRange.run([.int(from), .int(to), .int(Int64(settings.maxQueryRows))]) { row in
            func value(_ i: Int) -> Double? {
                let v = row.int(Int32(i + 2))
                return v < 0 ? nil : Double(v) / Self.columns[i].scale
            }
            func bytes(_ i: Int) -> UInt64? { value(i).map { UInt64($0) } }
            out.append(StoredSample(
                wallMilliseconds: row.int(0), resolution: row.int(1) == 0 ? .raw : .downsampled,
                cores: value(0).map { Int($0) }, cpuUtilisation: value(1),
                load1: value(2), load5: value(3), load15: value(4),
                memoryTotalBytes: bytes(5), memoryAvailableBytes: bytes(6),
                swapTotalBytes: bytes(7), swapFreeBytes: bytes(8),
                diskTotalBytes: bytes(9), diskFreeBytes: bytes(10),
                receiveBytesPerSecond: value(11), transmitBytesPerSecond: value(12),
                temperatureCelsius: value(13)))
        }
        return out
    }
}
