import Foundation
import Logging
import MeshAPI
import MeshCore
import Stats
import Supervisor

/// The agent's statistics shell: samples the node every `StatsSettings.sampleInterval` into
/// `DATA/stats.db` (raw for an hour, one-minute averages for a day), measures the supervised
/// instances on the same beat, and advertises the node's free CPU and memory in its
/// membership metadata for the scheduler.
actor StatsService {
    /// Metadata keys of the node summary (in `MemberMetadata.resources`).
    enum Keys {
        static let cpuCores = "cpu_cores"
        static let cpuFree = "cpu_free"
        static let memoryFreeMB = "mem_free_mb"
        static let memoryTotalMB = "mem_total_mb"
        static let temperature = "temp_c"
        /// `1` while the CPU is throttled (the heat gate keeps new placements off it).
        static let throttled = "throttled"
        /// The machine's architecture (`uname -m`: `x86_64`, `aarch64`), for `arch=` constraints.
        static let arch = "arch"
    }
    /// …or the hottest sensor by this many degrees (the scheduler's heat gate reads it).
    static let republishTemperatureCelsius = 2.0
    /// A new summary is disseminated only when free CPU moved by at least this many cores…
    static let republishCPUCores = 0.5
    /// …or free memory by at least this fraction of the node's memory (or 64 MB, if larger),
    /// so an idle node's jitter does not gossip a metadata update every sample.
    static let republishMemoryFraction = 0.05
    static let republishMemoryMinMB = 64

    let sampler: StatsSampler
    let logger: Logger
    let nodeName: String
    /// Each instance's figures from the last sample (cpu% over the interval, rss).
    private(set) var instanceStats: [InstanceID: ProcessStats] = [:]
    private var advertised: NodeSummary?
    private var metadataTooLargeLogged = false
    private var loop: Task<Void, Never>?

    init(dataDirectory: String, sampleInterval: Duration, nodeName: String, logger: Logger) throws(StatsError) {
        var settings = StatsSettings.default(dataDirectory: dataDirectory)
        settings.sampleInterval = sampleInterval
        sampler = try StatsSampler(settings: settings, databasePath: dataDirectory + "/stats.db")
        self.logger = logger
        self.nodeName = nodeName
    }

    /// Samples until `stop()`: the node, then the instances, then the summary.
    func start(supervisor: Supervisor, runtime: MeshRuntime) {
        let interval = sampler.settings.sampleInterval
        loop = Task { [weak self] in
            while !Task.isCancelled {
                await self?.tick(supervisor: supervisor, runtime: runtime)
                try? await Task.sleep(for: interval)
            }
        }
    }

    func stop() { loop?.cancel() }

    private func tick(supervisor: Supervisor, runtime: MeshRuntime) async {
        do { try await sampler.sample() } catch { logger.warning("stats sample not stored", metadata: ["error": "\(error)"]) }
        let pids = await supervisor.runningProcesses()
        let byPid = await sampler.processes(Array(pids.values))
        instanceStats = pids.compactMapValues { byPid[$0] }
        guard let latest = await sampler.latest,
              shouldRepublish(latest.summary, totalMemoryMB: Int((latest.snapshot.memory?.totalBytes ?? 0) >> 20)) else { return }
        let summary = latest.summary
        let tags = summary.tags
        let ok = await runtime.advertise(resources: [Keys.cpuCores: tags[Keys.cpuCores], Keys.cpuFree: tags[Keys.cpuFree],
                                                     Keys.memoryFreeMB: tags[Keys.memoryFreeMB],
                                                     Keys.memoryTotalMB: tags[Keys.memoryTotalMB],
                                                     Keys.temperature: tags[Keys.temperature],
                                                     Keys.throttled: tags[Keys.throttled], Keys.arch: Self.machine])
        if ok {
            advertised = summary
        } else if !metadataTooLargeLogged {
            metadataTooLargeLogged = true
            logger.warning("the node summary does not fit in the membership metadata bound; fewer or shorter tags make room")
        }
    }

    private func shouldRepublish(_ s: NodeSummary, totalMemoryMB: Int) -> Bool {
        guard let a = advertised else { return true }
        if a.cores != s.cores || a.totalMemoryMB != s.totalMemoryMB || a.throttled != s.throttled { return true }
        switch (a.temperatureCelsius, s.temperatureCelsius) {
        case let (x?, y?) where abs(x - y) >= Self.republishTemperatureCelsius: return true
        case (nil, _?), (_?, nil): return true
        default: break
        }
        switch (a.freeCPUCores, s.freeCPUCores) {
        case let (x?, y?) where abs(x - y) >= Self.republishCPUCores: return true
        case (nil, _?), (_?, nil): return true
        default: break
        }
        switch (a.freeMemoryMB, s.freeMemoryMB) {
        case let (x?, y?):
            return Double(abs(x - y)) >= max(Double(Self.republishMemoryMinMB), Double(totalMemoryMB) * Self.republishMemoryFraction)
        case (nil, _?), (_?, nil): return true
        default: return false
        }
    }

    /// `uname -m`.
    static let machine: String = {
        var u = utsname()
        guard uname(&u) == 0 else { return "unknown" }
        return withUnsafeBytes(of: &u.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }()

    /// The latest sample and the history of the last `history`, as the API shows them.
    func info(history: Duration) async -> NodeStatsInfo {
        let latest = await sampler.latest
        let now = Int64(AgentService.wallMilliseconds())
        let points = (try? await sampler.history(fromMilliseconds: now - history.nanoseconds / 1_000_000, toMilliseconds: now)) ?? []
        var info = NodeStatsInfo(node: nodeName, history: points.map(Self.point))
        guard let latest else { return info }
        let s = latest.snapshot
        info.time = Self.iso(Int64(AgentService.wallMilliseconds()))
        info.cores = latest.cores
        info.cpuUtilisation = latest.cpuUtilisation
        info.cpuPerCore = latest.cpuUtilisationPerCore
        info.load1 = s.load?.one; info.load5 = s.load?.five; info.load15 = s.load?.fifteen
        info.memoryTotalBytes = s.memory?.totalBytes; info.memoryAvailableBytes = s.memory?.availableBytes
        info.swapTotalBytes = s.memory?.swapTotalBytes; info.swapFreeBytes = s.memory?.swapFreeBytes
        info.diskPath = s.disk?.path; info.diskTotalBytes = s.disk?.totalBytes; info.diskFreeBytes = s.disk?.freeBytes
        info.receiveBytesPerSecond = latest.receiveBytesPerSecond; info.transmitBytesPerSecond = latest.transmitBytesPerSecond
        info.uptimeSeconds = s.uptimeSeconds
        info.temperatureCelsius = s.temperatures.map(\.celsius).max()
        if let last = points.last { info.time = Self.iso(last.wallMilliseconds) }
        return info
    }

    /// The `/metrics` families of the node and its instances (empty before the first sample).
    func metricsText() async -> String {
        guard let latest = await sampler.latest else { return "" }
        let instances = Dictionary(uniqueKeysWithValues: instanceStats.map { ($0.key.rawValue, $0.value) })
        return NodeMetrics.render(node: latest, instances: instances, ticksPerSecond: sampler.ticksPerSecond)
    }

    static func point(_ p: StoredSample) -> StatsPoint {
        StatsPoint(time: iso(p.wallMilliseconds), resolution: p.resolution == .raw ? "raw" : "1m",
                   cpuUtilisation: p.cpuUtilisation, load1: p.load1, memoryAvailableBytes: p.memoryAvailableBytes,
                   diskFreeBytes: p.diskFreeBytes, receiveBytesPerSecond: p.receiveBytesPerSecond,
                   transmitBytesPerSecond: p.transmitBytesPerSecond, temperatureCelsius: p.temperatureCelsius)
    }

    static func iso(_ ms: Int64) -> String {
        APITime.iso8601(milliseconds: ms)
    }
}
