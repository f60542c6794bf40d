/// Every limit of statistics sampling and storage, with its default and why.
public struct StatsSettings: Sendable {
    /// How often the agent takes a sample. 10 s: a minute's average holds six samples, and
    /// the cost (well under 1 ms each) is noise even on a Raspberry Pi.
    public var sampleInterval: Duration = .seconds(10)
    /// Samples are kept as taken for this long…
    public var rawRetention: Duration = .seconds(3600)
    /// …then averaged into buckets of this width…
    public var downsampleBucket: Duration = .seconds(60)
    /// …which are kept this long, then deleted.
    public var downsampledRetention: Duration = .seconds(86_400)
    /// The filesystem whose size and free space are reported (the agent's data directory).
    public var diskPath: String = "/"
    /// Roots of procfs and sysfs; tests point them at fixture folders.
    public var procRoot: String = "/proc"
    public var sysRoot: String = "/sys"
    /// Upper bound on thermal zones read per sample (boards have 1-10).
    public var maxThermalZones: Int = 32
    /// Upper bound on network interfaces reported (containers can have hundreds of veths).
    public var maxNetworkInterfaces: Int = 64
    /// Processes summed into one instance's statistics at most (its main process and
    /// descendants): a fork bomb must not make a sample unbounded.
    public var maxProcessesPerTree: Int = 256
    /// Rows returned by one history query at most.
    public var maxQueryRows: Int = 10_000

    public init() {}

    /// The agent's defaults with disk stats for its data directory.
    public static func `default`(dataDirectory: String) -> StatsSettings {
        var s = StatsSettings()
        s.diskPath = dataDirectory
        return s
    }
}
