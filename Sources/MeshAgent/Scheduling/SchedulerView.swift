import Consensus
import Foundation
import MeshCore
import Membership
import Scheduler

/// Timing of the agent's scheduling shell, named in one place.
enum SchedulingSettings {
    /// How often the leader plans (also at once on a membership change).
    static let schedulerInterval = Duration.seconds(1)
    /// How often every node reconciles what is placed on it with what its supervisor runs
    /// (also at once when its control replica changes).
    static let reconcileInterval = Duration.seconds(1)
    /// How often the reconciler looks whether its replica moved (a cheap check; the work
    /// happens only when it did, or on `reconcileInterval`).
    static let replicaPollInterval = Duration.milliseconds(100)
    /// The environment variable that marks an instance as a placement's (its id, `p7`):
    /// kept in the supervisor's state, so an adopted instance is recognised after a restart.
    static let placementVariable = "MESHD_PLACEMENT"
    /// Node tag that keeps a node out of placements.
    static let ineligibleTag = ("schedule", "never")
}

/// The scheduler's view of the mesh, built the same way by the leader (to plan) and by any
/// node (`ps` pending reasons, `why`): members with their metadata, the workload state of
/// the local replica, and the hot nodes.
///
/// Times are wall-clock `MeshTime`s (nanoseconds since the epoch): placements carry the
/// leader's wall time, so a new leader compares them with its own clock. A member's
/// status change, seen on this agent's monotonic clock, is moved to the wall clock.
enum SchedulerView {
    static func wallNow() -> MeshTime { MeshTime(nanoseconds: Int64(Date().timeIntervalSince1970 * 1e9)) }

    /// One member as the scheduler sees it: suspect counts as alive (Lifeguard may refute
    /// it), dead is unreachable since its status changed, left is gone.
    static func node(_ m: MemberSnapshot, monotonicNow: MeshTime, wallNow: MeshTime) -> SchedulerNode {
        let r = m.metadata.resources
        let reachability: SchedulerNode.Reachability = switch m.status {
        case .alive, .suspect: .alive
        case .dead: .unreachable(since: wallNow - (monotonicNow - m.statusSince))
        case .left: .left
        }
        let (key, value) = SchedulingSettings.ineligibleTag
        return SchedulerNode(id: m.id, name: m.name, arch: r[StatsService.Keys.arch] ?? "unknown", tags: m.metadata.tags,
                             cpuMillicores: (r[StatsService.Keys.cpuCores].flatMap(Int.init) ?? 0) * 1000,
                             memoryMB: r[StatsService.Keys.memoryTotalMB].flatMap(Int.init) ?? 0,
                             reachability: reachability,
                             temperatureCelsius: r[StatsService.Keys.temperature].flatMap(Double.init),
                             ineligible: m.metadata.tags[key] == value)
    }

    static func input(_ state: WorkloadState, members: [MemberSnapshot], monotonicNow: MeshTime, wallNow: MeshTime,
                      hot: Set<NodeID> = []) -> SchedulerInput {
        SchedulerInput(workloads: state.specs,
                       nodes: members.map { node($0, monotonicNow: monotonicNow, wallNow: wallNow) },
                       placements: state.placementList, crashLoops: state.crashLoops, hot: hot)
    }

    /// `{{peers}}` of a slot: the advertised mesh host of the node of each other instance
    /// of the workload, in instance order (one entry per instance, so the same host may
    /// appear twice); instances not placed are left out.
    static func peers(of slot: InstanceSlot, _ state: WorkloadState, hosts: [NodeID: String]) -> [String] {
        var newest: [Int: Placement] = [:]
        for p in state.placementList where p.slot.workload == slot.workload && p.slot.instance != slot.instance {
            newest[p.slot.instance] = p     // id order: the latest placement of a slot wins
        }
        return newest.sorted { $0.key < $1.key }.compactMap { hosts[$0.value.node] }
    }
}

extension MeshRuntime {
    /// Every member (this agent included) and the monotonic time they were read at.
    func schedulerMembers() -> (members: [MemberSnapshot], now: MeshTime) { (membership.members, MeshClock.now()) }

    /// Each member's advertised mesh host (`{{peers}}`).
    func memberHosts() -> [NodeID: String] {
        Dictionary(membership.members.compactMap { m in m.addresses.first.map { (m.id, $0.host) } }, uniquingKeysWith: { a, _ in a })
    }
}
