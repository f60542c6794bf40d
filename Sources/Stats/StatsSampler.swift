import MeshCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Takes node samples on the agent's schedule, keeps them in a ``StatsStore`` with
/// retention and downsampling, and answers the latest values, history, per-process
/// statistics and the membership summary.
///
/// The agent drives it: `Task { await sampler.run() }`, or `sample()` from its own timer.
public actor StatsSampler {
    public nonisolated let settings: StatsSettings
    private let reader: StatsReader
    private let store: StatsStore
    private let clockOrigin = ContinuousClock.now
    private var previous: NodeSnapshot?
    private var previousProcesses: [Int32: ProcessSnapshot] = [:]
    private var nextCompactionMilliseconds: Int64 = 0
    /// The newest node statistics (nil before the first sample).
    public private(set) var latest: NodeStats?

    /// Opens (creating) the history database at `databasePath`.
    public init(settings: StatsSettings, databasePath: String) throws(StatsError) {
        self.settings = settings
        reader = StatsReader(settings: settings)
        store = try StatsStore(path: databasePath, settings: settings)
    }

    /// Clock ticks per second of /proc CPU times (for `ProcessStats.cpuSeconds`).
    public nonisolated var ticksPerSecond: Double { StatsReader.clockTicksPerSecond }

    private var monotonicNow: Int64 { (ContinuousClock.now - clockOrigin).nanoseconds }

    /// Reads the node, stores the sample, compacts once per bucket; returns the statistics.
    /// `wallMilliseconds` defaults to the system clock.
    @discardableResult
    public func sample(wallMilliseconds: Int64? = nil) throws(StatsError) -> NodeStats {
        let wall = wallMilliseconds ?? Self.wallClockMilliseconds()
        let snapshot = reader.node(monotonicNanoseconds: monotonicNow)
        let stats = NodeStats(snapshot: snapshot, previous: previous)
        previous = snapshot
        latest = stats
        try store.insert(stats, wallMilliseconds: wall)
        if wall >= nextCompactionMilliseconds {
            try store.compact(nowWallMilliseconds: wall)
            nextCompactionMilliseconds = wall + settings.downsampleBucket.nanoseconds / 1_000_000
        }
        return stats
    }

    /// Samples every `sampleInterval` until the task is cancelled. A storage error skips
    /// that sample's storage (the latest values still update) and is passed to `onError`.
    public func run(onError: @Sendable (StatsError) -> Void = { _ in }) async {
        while !Task.isCancelled {
            do { try sample() } catch { onError(error) }
            try? await Task.sleep(for: settings.sampleInterval)
        }
    }

    /// History between two wall-clock times (ms since 1970), oldest first.
    public func history(fromMilliseconds from: Int64, toMilliseconds to: Int64) throws(StatsError) -> [StoredSample] {
        try store.query(fromMilliseconds: from, toMilliseconds: to)
    }

    /// CPU%, RSS, open files and threads of each pid (e.g. each instance's main process)
    /// together with its descendants (`StatsReader.processTree`); CPU% is measured since the
    /// previous call that included the pid. Pids that do not exist are left out; pids not
    /// asked for are forgotten.
    public func processes(_ pids: [Int32]) -> [Int32: ProcessStats] {
        let now = monotonicNow
        var out: [Int32: ProcessStats] = [:]
        var seen: [Int32: ProcessSnapshot] = [:]
        for pid in pids {
            guard let snap = reader.processTree(pid, monotonicNanoseconds: now) else { continue }
            out[pid] = ProcessStats(snapshot: snap, previous: previousProcesses[pid], ticksPerSecond: reader.ticksPerSecond)
            seen[pid] = snap
        }
        previousProcesses = seen
        return out
    }

    /// The summary for membership metadata (free CPU cores, free memory MB).
    public var summary: NodeSummary? { latest?.summary }

    static func wallClockMilliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}
