/// Cumulative CPU time of one CPU (or all of them) in clock ticks, from a `cpu` line of
/// /proc/stat (see proc(5)).
public struct CPUTimes: Sendable, Equatable, Codable {
    public var user: UInt64 = 0, nice: UInt64 = 0, system: UInt64 = 0, idle: UInt64 = 0
    public var iowait: UInt64 = 0, irq: UInt64 = 0, softirq: UInt64 = 0, steal: UInt64 = 0

    public init(user: UInt64 = 0, nice: UInt64 = 0, system: UInt64 = 0, idle: UInt64 = 0,
                iowait: UInt64 = 0, irq: UInt64 = 0, softirq: UInt64 = 0, steal: UInt64 = 0) {
        self.user = user; self.nice = nice; self.system = system; self.idle = idle
        self.iowait = iowait; self.irq = irq; self.softirq = softirq; self.steal = steal
    }

    public var total: UInt64 { user &+ nice &+ system &+ idle &+ iowait &+ irq &+ softirq &+ steal }
    /// Time not spent idle or waiting for I/O.
    public var busy: UInt64 { total &- idle &- iowait }

    /// Busy fraction (0…1) between an earlier sample and this one; nil without elapsed time.
    public func utilisation(since earlier: CPUTimes) -> Double? {
        guard total > earlier.total else { return nil }
        let dTotal = Double(total - earlier.total)
        let dBusy = Double(busy >= earlier.busy ? busy - earlier.busy : 0)
        return min(1, max(0, dBusy / dTotal))
    }

    /// (mode, ticks) pairs as Prometheus' node_cpu_seconds_total labels them.
    public var modes: [(String, UInt64)] {
        [("user", user), ("nice", nice), ("system", system), ("idle", idle),
         ("iowait", iowait), ("irq", irq), ("softirq", softirq), ("steal", steal)]
    }
}

/// /proc/stat: all CPUs together and each one.
public struct CPUStat: Sendable, Equatable, Codable {
    public var total: CPUTimes
    public var perCore: [CPUTimes]
}

/// /proc/loadavg.
public struct LoadAverage: Sendable, Equatable, Codable {
    public var one: Double, five: Double, fifteen: Double
}

/// /proc/meminfo, in bytes.
public struct MemoryInfo: Sendable, Equatable, Codable {
    public var totalBytes: UInt64
    /// MemAvailable: what can be allocated without swapping (kernel ≥ 3.14; else nil).
    public var availableBytes: UInt64?
    public var swapTotalBytes: UInt64?
    public var swapFreeBytes: UInt64?
}

/// statvfs of a path, in bytes.
public struct DiskUsage: Sendable, Equatable, Codable {
    public var path: String
    public var totalBytes: UInt64
    /// Available to unprivileged users (f_bavail), as `df` shows.
    public var freeBytes: UInt64
}

/// Cumulative counters of one interface, from /proc/net/dev.
public struct NetworkCounters: Sendable, Equatable, Codable {
    public var interface: String
    public var receiveBytes: UInt64, receivePackets: UInt64, receiveErrors: UInt64, receiveDrops: UInt64
    public var transmitBytes: UInt64, transmitPackets: UInt64, transmitErrors: UInt64, transmitDrops: UInt64
}

/// One thermal zone of /sys/class/thermal.
public struct Temperature: Sendable, Equatable, Codable {
    /// `thermal_zone0` …
    public var zone: String
    /// The zone's `type` file (e.g. `cpu-thermal`), when present.
    public var type: String?
    public var celsius: Double
}

/// Everything read from /proc and /sys at one moment: counters as they are, not rates.
/// Any part the system does not offer (a container, another kernel) is nil or empty.
public struct NodeSnapshot: Sendable, Equatable, Codable {
    /// Monotonic time of the reading, for rates.
    public var monotonicNanoseconds: Int64
    public var cpu: CPUStat?
    public var load: LoadAverage?
    public var memory: MemoryInfo?
    public var disk: DiskUsage?
    public var network: [NetworkCounters]
    public var uptimeSeconds: Double?
    public var temperatures: [Temperature]
    /// Whether the CPU is held back now (`StatsReader.throttled`); nil when unknown.
    public var throttled: Bool? = nil
}

/// Node statistics: the latest snapshot plus what needs two of them (CPU utilisation,
/// network rates).
public struct NodeStats: Sendable, Equatable, Codable {
    public var snapshot: NodeSnapshot
    /// Busy fraction of all CPUs (0…1); nil for the first sample.
    public var cpuUtilisation: Double?
    /// Busy fraction of each CPU.
    public var cpuUtilisationPerCore: [Double?]
    /// Bytes per second received and sent over all interfaces but loopback.
    public var receiveBytesPerSecond: Double?
    public var transmitBytesPerSecond: Double?

    /// CPUs in /proc/stat.
    public var cores: Int { snapshot.cpu?.perCore.count ?? 0 }

    public init(snapshot: NodeSnapshot, previous: NodeSnapshot?) {
        self.snapshot = snapshot
        cpuUtilisation = nil
        cpuUtilisationPerCore = snapshot.cpu?.perCore.map { _ in nil } ?? []
        receiveBytesPerSecond = nil
        transmitBytesPerSecond = nil
        guard let previous else { return }
        if let now = snapshot.cpu, let then = previous.cpu {
            cpuUtilisation = now.total.utilisation(since: then.total)
            cpuUtilisationPerCore = now.perCore.indices.map { i in
                i < then.perCore.count ? now.perCore[i].utilisation(since: then.perCore[i]) : nil
            }
        }
        let seconds = Double(snapshot.monotonicNanoseconds - previous.monotonicNanoseconds) / 1e9
        if seconds > 0 {
            func sum(_ s: NodeSnapshot, _ key: (NetworkCounters) -> UInt64) -> UInt64 {
                s.network.filter { $0.interface != "lo" }.reduce(0) { $0 &+ key($1) }
            }
            let rx = sum(snapshot, \.receiveBytes), rx0 = sum(previous, \.receiveBytes)
            let tx = sum(snapshot, \.transmitBytes), tx0 = sum(previous, \.transmitBytes)
            if rx >= rx0 { receiveBytesPerSecond = Double(rx - rx0) / seconds }
            if tx >= tx0 { transmitBytesPerSecond = Double(tx - tx0) / seconds }
        }
    }

    /// Idle CPU capacity in cores (e.g. 1.6 of 4), for the scheduler.
    public var freeCPUCores: Double? {
        cpuUtilisation.map { Double(cores) * (1 - $0) }
    }

    /// The summary carried in membership metadata.
    public var summary: NodeSummary {
        NodeSummary(cores: cores, freeCPUCores: freeCPUCores,
                    freeMemoryMB: snapshot.memory?.availableBytes.map { Int($0 >> 20) },
                    totalMemoryMB: snapshot.memory.map { Int($0.totalBytes >> 20) },
                    temperatureCelsius: snapshot.temperatures.map(\.celsius).max(), throttled: snapshot.throttled)
    }
}

/// What the scheduler needs to know of a node's room, small enough for membership metadata.
public struct NodeSummary: Sendable, Equatable, Codable {
    public var cores: Int
    public var freeCPUCores: Double?
    public var freeMemoryMB: Int?
    /// What the scheduler reserves from: the node's whole memory.
    public var totalMemoryMB: Int?
    /// The hottest sensor (a hot node gets no new placements).
    public var temperatureCelsius: Double?
    /// Whether the CPU is throttled now (a throttled node gets no new placements either).
    public var throttled: Bool?

    public init(cores: Int, freeCPUCores: Double?, freeMemoryMB: Int?, totalMemoryMB: Int? = nil, temperatureCelsius: Double? = nil,
                throttled: Bool? = nil) {
        self.cores = cores; self.freeCPUCores = freeCPUCores; self.freeMemoryMB = freeMemoryMB
        self.totalMemoryMB = totalMemoryMB; self.temperatureCelsius = temperatureCelsius; self.throttled = throttled
    }

    /// As membership tags: `cpu_cores`, `cpu_free` (one decimal), `mem_free_mb`,
    /// `mem_total_mb`, `temp_c` (whole degrees), `throttled` (`1` or `0`); unknown values
    /// are left out.
    public var tags: [String: String] {
        var t = ["cpu_cores": String(cores)]
        if let f = freeCPUCores { t["cpu_free"] = String((f * 10).rounded() / 10) }
        if let m = freeMemoryMB { t["mem_free_mb"] = String(m) }
        if let m = totalMemoryMB { t["mem_total_mb"] = String(m) }
        if let c = temperatureCelsius { t["temp_c"] = String(Int(c.rounded())) }
        if let th = throttled { t["throttled"] = th ? "1" : "0" }
        return t
    }
}

/// One process's counters at one moment, from /proc/PID.
public struct ProcessSnapshot: Sendable, Equatable, Codable {
    public var pid: Int32
    public var monotonicNanoseconds: Int64
    /// utime + stime, plus cutime + cstime (children it has reaped), clock ticks.
    public var cpuTicks: UInt64
    public var residentBytes: UInt64
    public var threads: Int
    /// Entries of /proc/PID/fd; nil when not readable (another user's process).
    public var openFiles: Int?
    /// Processes summed into this snapshot (1 for a single process; more for a tree).
    public var processes: Int = 1
}

/// A process's statistics: its snapshot and its CPU use since the previous one.
public struct ProcessStats: Sendable, Equatable, Codable {
    public var snapshot: ProcessSnapshot
    /// Percent of one CPU (200 = two full cores); nil for the first sample.
    public var cpuPercent: Double?

    public init(snapshot: ProcessSnapshot, previous: ProcessSnapshot?, ticksPerSecond: Double) {
        self.snapshot = snapshot
        cpuPercent = nil
        if let previous, previous.pid == snapshot.pid, snapshot.cpuTicks >= previous.cpuTicks {
            let seconds = Double(snapshot.monotonicNanoseconds - previous.monotonicNanoseconds) / 1e9
            if seconds > 0 { cpuPercent = Double(snapshot.cpuTicks - previous.cpuTicks) / ticksPerSecond / seconds * 100 }
        }
    }

    /// CPU seconds used so far.
    public func cpuSeconds(ticksPerSecond: Double) -> Double { Double(snapshot.cpuTicks) / ticksPerSecond }
}
