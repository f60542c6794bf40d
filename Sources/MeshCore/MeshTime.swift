/// A point on a monotonic clock, in nanoseconds from an arbitrary origin.
///
/// Cores never read a clock: the agent passes real monotonic time and the simulator passes
/// virtual time, both as `MeshTime`.
public struct MeshTime: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static let zero = MeshTime(nanoseconds: 0)

    public static func < (a: MeshTime, b: MeshTime) -> Bool { a.nanoseconds < b.nanoseconds }

    public static func + (t: MeshTime, d: Duration) -> MeshTime {
        MeshTime(nanoseconds: t.nanoseconds &+ d.nanoseconds)
    }

    public static func - (t: MeshTime, d: Duration) -> MeshTime {
        MeshTime(nanoseconds: t.nanoseconds &- d.nanoseconds)
    }

    public static func - (a: MeshTime, b: MeshTime) -> Duration {
        .nanoseconds(a.nanoseconds &- b.nanoseconds)
    }

    public var seconds: Double { Double(nanoseconds) / 1e9 }
    public var description: String { "t+\(seconds)s" }
}

extension Duration {
    /// The duration in whole nanoseconds (saturating at Int64 bounds).
    public var nanoseconds: Int64 {
        let (s, atto) = components
        let (ns, overflow) = s.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return s < 0 ? .min : .max }
        return ns &+ atto / 1_000_000_000
    }

    /// The duration in seconds as a floating-point value.
    public var seconds: Double { Double(nanoseconds) / 1e9 }

    /// Scales a duration by a real factor (used for timeouts stretched by health multipliers).
    public func scaled(by factor: Double) -> Duration {
        .nanoseconds(Int64((Double(nanoseconds) * factor).rounded()))
    }
}
