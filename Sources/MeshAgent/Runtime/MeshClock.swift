import MeshCore
import NIOCore

/// Real monotonic time as the cores take it: NIO's uptime clock, the same one its
/// scheduled tasks use, so a timer armed for a `MeshTime` fires at that time.
enum MeshClock {
    static func now() -> MeshTime { MeshTime(nanoseconds: Int64(NIODeadline.now().uptimeNanoseconds)) }

    static func deadline(_ t: MeshTime) -> NIODeadline { .uptimeNanoseconds(UInt64(max(0, t.nanoseconds))) }
}
