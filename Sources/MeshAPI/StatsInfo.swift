/// A node's statistics as `GET /v1/stats[/NODE]` and `meshctl stats --json` show them: the
/// latest sample and recent history. Unknown values (a container without
/// /sys/class/thermal, a first sample without a CPU delta) are `null`.
public struct NodeStatsInfo: Codable, Sendable, Equatable {
    public var node: String
    /// When the latest sample was taken, ISO 8601; nil before the first sample.
    public var time: String?
    public var cores: Int?
    /// Busy fraction of all CPUs (0-1) over the last sample interval, and per core.
    public var cpuUtilisation: Double?
    public var cpuPerCore: [Double?]
    public var load1: Double?, load5: Double?, load15: Double?
    public var memoryTotalBytes: UInt64?, memoryAvailableBytes: UInt64?
    public var swapTotalBytes: UInt64?, swapFreeBytes: UInt64?
    public var diskPath: String?, diskTotalBytes: UInt64?, diskFreeBytes: UInt64?
    public var receiveBytesPerSecond: Double?, transmitBytesPerSecond: Double?
    public var uptimeSeconds: Double?
    /// The hottest thermal zone.
    public var temperatureCelsius: Double?
    /// Oldest first: raw samples of the last hour, one-minute averages before.
    public var history: [StatsPoint]

    public init(node: String, time: String? = nil, cores: Int? = nil, cpuUtilisation: Double? = nil,
                cpuPerCore: [Double?] = [], load1: Double? = nil, load5: Double? = nil, load15: Double? = nil,
                memoryTotalBytes: UInt64? = nil, memoryAvailableBytes: UInt64? = nil,
                swapTotalBytes: UInt64? = nil, swapFreeBytes: UInt64? = nil, diskPath: String? = nil,
                diskTotalBytes: UInt64? = nil, diskFreeBytes: UInt64? = nil, receiveBytesPerSecond: Double? = nil,
                transmitBytesPerSecond: Double? = nil, uptimeSeconds: Double? = nil,
                temperatureCelsius: Double? = nil, history: [StatsPoint] = []) {
        self.node = node; self.time = time; self.cores = cores; self.cpuUtilisation = cpuUtilisation
        self.cpuPerCore = cpuPerCore; self.load1 = load1; self.load5 = load5; self.load15 = load15
        self.memoryTotalBytes = memoryTotalBytes; self.memoryAvailableBytes = memoryAvailableBytes
        self.swapTotalBytes = swapTotalBytes; self.swapFreeBytes = swapFreeBytes; self.diskPath = diskPath
        self.diskTotalBytes = diskTotalBytes; self.diskFreeBytes = diskFreeBytes
        self.receiveBytesPerSecond = receiveBytesPerSecond; self.transmitBytesPerSecond = transmitBytesPerSecond
        self.uptimeSeconds = uptimeSeconds; self.temperatureCelsius = temperatureCelsius; self.history = history
    }

    enum CodingKeys: String, CodingKey {
        case node, time, cores, history
        case cpuUtilisation = "cpu_utilisation", cpuPerCore = "cpu_per_core"
        case load1, load5, load15
        case memoryTotalBytes = "memory_total_bytes", memoryAvailableBytes = "memory_available_bytes"
        case swapTotalBytes = "swap_total_bytes", swapFreeBytes = "swap_free_bytes"
        case diskPath = "disk_path", diskTotalBytes = "disk_total_bytes", diskFreeBytes = "disk_free_bytes"
        case receiveBytesPerSecond = "receive_bytes_per_second", transmitBytesPerSecond = "transmit_bytes_per_second"
        case uptimeSeconds = "uptime_seconds", temperatureCelsius = "temperature_celsius"
    }

    /// Writes `null` for unknown values rather than leaving the key out.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(node, forKey: .node); try c.encode(time, forKey: .time); try c.encode(cores, forKey: .cores)
        try c.encode(cpuUtilisation, forKey: .cpuUtilisation); try c.encode(cpuPerCore, forKey: .cpuPerCore)
        try c.encode(load1, forKey: .load1); try c.encode(load5, forKey: .load5); try c.encode(load15, forKey: .load15)
        try c.encode(memoryTotalBytes, forKey: .memoryTotalBytes); try c.encode(memoryAvailableBytes, forKey: .memoryAvailableBytes)
        try c.encode(swapTotalBytes, forKey: .swapTotalBytes); try c.encode(swapFreeBytes, forKey: .swapFreeBytes)
        try c.encode(diskPath, forKey: .diskPath); try c.encode(diskTotalBytes, forKey: .diskTotalBytes)
        try c.encode(diskFreeBytes, forKey: .diskFreeBytes)
        try c.encode(receiveBytesPerSecond, forKey: .receiveBytesPerSecond)
        try c.encode(transmitBytesPerSecond, forKey: .transmitBytesPerSecond)
        try c.encode(uptimeSeconds, forKey: .uptimeSeconds); try c.encode(temperatureCelsius, forKey: .temperatureCelsius)
        try c.encode(history, forKey: .history)
    }
}

/// One point of a node's history.
public struct StatsPoint: Codable, Sendable, Equatable {
    public var time: String
    /// `raw` or `1m` (a one-minute average).
    public var resolution: String
    public var cpuUtilisation: Double?
    public var load1: Double?
    public var memoryAvailableBytes: UInt64?
    public var diskFreeBytes: UInt64?
    public var receiveBytesPerSecond: Double?, transmitBytesPerSecond: Double?
    public var temperatureCelsius: Double?

    public init(time: String, resolution: String, cpuUtilisation: Double?, load1: Double?, memoryAvailableBytes: UInt64?,
                diskFreeBytes: UInt64?, receiveBytesPerSecond: Double?, transmitBytesPerSecond: Double?,
                temperatureCelsius: Double?) {
        self.time = time; self.resolution = resolution; self.cpuUtilisation = cpuUtilisation; self.load1 = load1
        self.memoryAvailableBytes = memoryAvailableBytes; self.diskFreeBytes = diskFreeBytes
        self.receiveBytesPerSecond = receiveBytesPerSecond; self.transmitBytesPerSecond = transmitBytesPerSecond
        self.temperatureCelsius = temperatureCelsius
    }

    enum CodingKeys: String, CodingKey {
        case time, resolution, load1
        case cpuUtilisation = "cpu_utilisation", memoryAvailableBytes = "memory_available_bytes"
        case diskFreeBytes = "disk_free_bytes", receiveBytesPerSecond = "receive_bytes_per_second"
        case transmitBytesPerSecond = "transmit_bytes_per_second", temperatureCelsius = "temperature_celsius"
    }
}
