import Consensus
import Foundation
import MeshCore
import Membership
import Scheduler

/// Timing of the agent's scheduling shell, named in one place.
enum SchedulingSettings {
    /// How often the leader plans (also at once on a membership change).
    static let schedulerInterval = Duration.seconds(1)
    /// How often every node's reconciler wakes without a nudge. Its work is triggered by
    /// changes (its replica applied an entry, a supervised instance changed state, its view
    /// of the voters changed, a `stop_after_disconnect` fell due); a wake-up with none of
    /// them costs two scalar reads, unless a report to the leader waits to be sent again.
    static let reconcileInterval = Duration.seconds(10)
    /// Every this many wake-ups the reconciler does a whole pass anyway: the backstop of a
    /// level-triggered loop, for what moves without a signal (a member's address, which
    /// `{{peers}}` names).
    static let fullPassEvery = 6
    /// How long one `git` step of a workload's source may take (a clone of a big
    /// repository over a slow link, not a hung credential prompt: prompts are off).
    static let gitTimeout = Duration.seconds(300)
    /// A running instance's process start time is reported again when it differs from the
    /// committed one by more than this (/proc gives it to about a second).
    static let startTimeTolerance = Duration.seconds(2)
    /// The node's ledger of started placements, in the data directory (`PlacementLedger`).
    static let ledgerFile = "placements"
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
                             throttled: r[StatsService.Keys.throttled] == "1",
                             ineligible: m.metadata.tags[key] == value)
    }

    static func input(_ state: WorkloadState, members: [MemberSnapshot], monotonicNow: MeshTime, wallNow: MeshTime,
                      hot: Set<NodeID> = []) -> SchedulerInput {
        SchedulerInput(workloads: state.specs,
                       nodes: members.map { node($0, monotonicNow: monotonicNow, wallNow: wallNow) },
                       placements: state.placementList, crashLoops: state.crashLoops, hot: hot, startedAt: state.startedAt)
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
