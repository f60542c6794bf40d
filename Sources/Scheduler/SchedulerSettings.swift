/// Every limit and default of the scheduler, named in one place.
public struct SchedulerSettings: Sendable, Equatable {
    /// Instances one workload may ask for.
    public var maxCount: Int
    /// Workloads the mesh holds at once.
    public var maxWorkloads: Int
    /// Arguments, environment entries and constraints of one spec.
    public var maxArguments: Int
    public var maxEnvironment: Int
    public var maxConstraints: Int
    /// Bytes of one argument, environment value or name.
    public var maxFieldBytes: Int
    /// How long a node may stay unreachable before its instances are placed elsewhere,
    /// when the workload does not say (Nomad's `disconnect.lost_after`).
    public var defaultRescheduleAfter: Duration
    /// A node at or above this temperature gets no new placements...
    public var hotCelsius: Double
    /// ...until it is back at or below this one (hysteresis, so a node at the threshold
    /// does not flap in and out of the candidates).
    public var coolCelsius: Double
    /// ...and has reported no CPU throttling for this long (throttling is on or off, so
    /// the hysteresis is a time: a node that throttles on and off stays out meanwhile).
    public var throttleClearAfter: Duration
    /// An instance that exhausts its restarts on one node is moved elsewhere, and the
    /// node avoided for the workload for this long.
    public var crashLoopAvoidance: Duration
    /// Moves after exhausted restarts before the workload is marked failed.
    public var maxCrashLoopMoves: Int

    public init(maxCount: Int = 1_000, maxWorkloads: Int = 10_000, maxArguments: Int = 256, maxEnvironment: Int = 256,
                maxConstraints: Int = 32, maxFieldBytes: Int = 4_096, defaultRescheduleAfter: Duration = .seconds(30),
                hotCelsius: Double = 80, coolCelsius: Double = 70, throttleClearAfter: Duration = .seconds(60),
                crashLoopAvoidance: Duration = .seconds(600),
                maxCrashLoopMoves: Int = 3) {
        self.maxCount = maxCount; self.maxWorkloads = maxWorkloads; self.maxArguments = maxArguments
        self.maxEnvironment = maxEnvironment; self.maxConstraints = maxConstraints; self.maxFieldBytes = maxFieldBytes
        self.defaultRescheduleAfter = defaultRescheduleAfter; self.hotCelsius = hotCelsius; self.coolCelsius = coolCelsius
        self.throttleClearAfter = throttleClearAfter
        self.crashLoopAvoidance = crashLoopAvoidance; self.maxCrashLoopMoves = maxCrashLoopMoves
    }

    public static let standard = SchedulerSettings()
}
