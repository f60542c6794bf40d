import MeshCore

/// What the scheduler knows of one member: who it is, what it offers, and whether it is
/// reachable. The agent builds it from membership (status, tags, the stats summary in the
/// metadata); the simulator from its virtual nodes.
public struct SchedulerNode: Sendable, Equatable {
    public enum Reachability: Sendable, Equatable {
        case alive
        /// Suspect or dead since this time; its instances move after `reschedule_after`.
        case unreachable(since: MeshTime)
        /// Left the mesh gracefully: its instances move at once.
        case left
    }

    public var id: NodeID
    public var name: String
    public var arch: String
    public var tags: [String: String]
    /// What the node offers in all (not what is free now): placements reserve from it.
    public var cpuMillicores: Int
    public var memoryMB: Int
    public var reachability: Reachability
    public var temperatureCelsius: Double?
    /// The kernel reports CPU throttling (a hot Pi): treated as hot.
    public var throttled: Bool
    /// The node asked for no new placements (tag `schedule=never`, or draining).
    public var ineligible: Bool

    public init(id: NodeID, name: String, arch: String = "x86_64", tags: [String: String] = [:],
                cpuMillicores: Int, memoryMB: Int, reachability: Reachability = .alive,
                temperatureCelsius: Double? = nil, throttled: Bool = false, ineligible: Bool = false) {
        self.id = id; self.name = name; self.arch = arch; self.tags = tags
        self.cpuMillicores = cpuMillicores; self.memoryMB = memoryMB; self.reachability = reachability
        self.temperatureCelsius = temperatureCelsius; self.throttled = throttled; self.ineligible = ineligible
    }

    /// The value a constraint compares: `name`, `arch`, else a tag (nil when absent).
    public func attribute(_ key: String) -> String? {
        switch key {
        case "name": name
        case "arch": arch
        default: tags[key]
        }
    }

    public var isAlive: Bool { reachability == .alive }

    /// A constraint's attribute: 1-64 letters, digits, `.`, `_`, `-`.
    static func isValidAttribute(_ key: String) -> Bool {
        !key.isEmpty && key.utf8.count <= 64 && key.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "._-".unicodeScalars.contains($0)
        }
    }
}
