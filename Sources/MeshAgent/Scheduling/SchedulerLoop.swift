import Consensus
import Logging
import Membership
import MeshCore
import Scheduler

/// The leader's scheduling loop: while this agent leads, every
/// `SchedulingSettings.schedulerInterval` and on each membership change, it builds the
/// scheduler's input from membership and the committed workload state, runs
/// `Scheduler.plan`, and commits a non-empty plan as one `applyPlan` command. The plan
/// names the state version it was made from, so a plan raced by another change is refused
/// and simply made again next round; a new leader resumes from the committed state.
actor SchedulerLoop {
    let consensus: ConsensusService
    let runtime: MeshRuntime
    let logger: Logger
    private var heat = HeatGate()
    private(set) var counters = SchedulingCounters()
    private let loop = CoalescingLoop()

    init(consensus: ConsensusService, runtime: MeshRuntime, logger: Logger) {
        self.consensus = consensus; self.runtime = runtime; self.logger = logger
    }

    /// Plans at once (a membership change); coalesced with a round already due.
    nonisolated func nudge() { loop.nudge() }

    func start() {
        loop.start(every: SchedulingSettings.schedulerInterval) { [weak self] in await self?.round() }
    }

    func stop() { loop.stop() }

    /// One planning round, on the leader only.
    func round() async {
        guard await consensus.status.role == .leader else { counters.pending = 0; return }
        let state = await consensus.state.workloads
        let (members, monotonicNow) = await runtime.schedulerMembers()
        let wallNow = SchedulerView.wallNow()
        var input = SchedulerView.input(state, members: members, monotonicNow: monotonicNow, wallNow: wallNow)
        let (heated, cooled) = heat.observe(input.nodes, now: wallNow)
        for id in heated { logger.notice("node too hot: no new placements", metadata: ["node": "\(id)"]) }
        for id in cooled { logger.notice("node cooled: takes placements again", metadata: ["node": "\(id)"]) }
        input.hot = heat.hot
        let plan = Scheduler.plan(input, now: wallNow)
        counters.pending = plan.pending.count
        guard !plan.isEmpty else { return }
        let command = PlanCommand(basedOn: state.version, at: wallNow, places: plan.place,
                                  stops: plan.stop.map { .init(placement: $0.placement, reason: "\($0.slot) on \(Self.name($0.node, members)): \($0.reason)") })
        switch await consensus.submit(.workload(.applyPlan(command)), requester: "scheduler") {
        case .success:
            counters.plans += 1
            counters.placements += UInt64(plan.place.count)
            counters.stops += UInt64(plan.stop.count)
            logger.info("plan committed", metadata: ["placed": "\(plan.place.count)", "stopped": "\(plan.stop.count)",
                                                      "pending": "\(plan.pending.count)"])
        case let .failure(e):
            counters.plansRefused += 1
            logger.debug("plan not committed; planning again next round", metadata: ["error": "\(e)"])
        }
    }

    static func name(_ id: NodeID, _ members: [MemberSnapshot]) -> String {
        members.first { $0.id == id }?.name ?? "\(id)"
    }

    /// A refused workload request, by `SpecError.reason` (or `name_in_use`, `unknown_workload`).
    func countRefusal(_ reason: String) { counters.refused[reason, default: 0] += 1 }

    func metricsText() -> String { counters.render() }
}

/// The scheduling shell's counters (`/metrics`).
struct SchedulingCounters: Sendable {
    var plans: UInt64 = 0
    var plansRefused: UInt64 = 0
    var placements: UInt64 = 0
    var stops: UInt64 = 0
    /// Instances the last plan left pending (on the leader; 0 elsewhere).
    var pending = 0
    var refused: [String: UInt64] = [:]

    func render() -> String {
        var t = PrometheusText()
        t.family("meshd_scheduler_plans_total", .counter, help: "Plans this agent committed as leader.", value: Double(plans))
        t.family("meshd_scheduler_plans_refused_total", .counter,
                 help: "Plans not committed (made from a stale state, or no quorum); planned again next round.", value: Double(plansRefused))
        t.family("meshd_scheduler_placements_total", .counter, help: "Instances placed by plans this agent committed.", value: Double(placements))
        t.family("meshd_scheduler_stops_total", .counter, help: "Placements stopped by plans this agent committed.", value: Double(stops))
        t.gauge("meshd_scheduler_pending_instances", help: "Instances the leader's last plan could not place (0 on other agents).", Double(pending))
        t.family("meshd_workload_refused_total", .counter, help: "Workload requests refused before anything was committed, by reason.",
                 refused.sorted { $0.key < $1.key }.map { (labels: [("reason", $0.key)], value: Double($0.value)) })
        return t.text
    }
}
