import Consensus
import MeshAPI
import MeshCore
import Membership
import Scheduler

/// The workload state as the API shows it, on any agent: specs and placements from its
/// replica, pending reasons and `why` verdicts from the same pure `Scheduler` the leader
/// runs, over this agent's view of the members (so they match the leader's as far as the
/// two views of membership agree).
struct WorkloadView: Sendable {
    let state: WorkloadState
    let input: SchedulerInput
    let plan: SchedulerPlan
    let now: MeshTime
    let names: [NodeID: String]

    static func make(_ state: WorkloadState, runtime: MeshRuntime) async -> WorkloadView {
        let (members, monotonicNow) = await runtime.schedulerMembers()
        let now = SchedulerView.wallNow()
        var input = SchedulerView.input(state, members: members, monotonicNow: monotonicNow, wallNow: now)
        var heat = HeatGate()
        heat.observe(input.nodes, now: now)
        input.hot = heat.hot
        return WorkloadView(state: state, input: input, plan: Scheduler.plan(input, now: now), now: now,
                            names: Dictionary(members.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a }))
    }

    func name(_ id: NodeID) -> String { names[id] ?? id.description }

    func placementInfo(_ r: PlacementRecord) -> PlacementInfo {
        let p = r.placement
        return PlacementInfo(placement: p.id.description, instance: p.slot.instance, node: name(p.node),
                             placedAt: APITime.iso8601(milliseconds: p.placedAt.nanoseconds / 1_000_000), index: r.index.value,
                             replaces: p.replaces?.description, generation: r.generation,
                             startedAt: r.startedAt.map { APITime.iso8601(milliseconds: $0.nanoseconds / 1_000_000) })
    }

    func pending(_ workload: String) -> [PendingInfo] {
        plan.pending.filter { $0.slot.workload == workload }.map { PendingInfo(instance: $0.slot.instance, reason: $0.reason) }
    }

    func info(_ workload: String) -> WorkloadInfo {
        let record = state.workloads[workload]!
        let spec = record.spec
        let placements = state.placements.values.filter { $0.placement.slot.workload == workload }
            .sorted { ($0.placement.slot.instance, $0.id) < ($1.placement.slot.instance, $1.id) }
        return WorkloadInfo(name: workload, command: spec.command, count: spec.count, cpu: spec.resources.cpuMillicores,
                            mem: spec.resources.memoryMB, constraints: spec.constraints.map(\.description),
                            strategy: spec.strategy.rawValue, restart: spec.restart,
                            rescheduleAfter: spec.rescheduleAfter.map(\.seconds), onHeal: spec.onHeal.rawValue,
                            generation: record.generation, submittedIndex: record.submitted.value,
                            placements: placements.map(placementInfo), pending: pending(workload),
                            stopAfterDisconnect: spec.stopAfterDisconnect.map(\.seconds), git: spec.source?.url, ref: spec.source?.ref)
    }

    func why(_ workload: String, instance: Int?) -> WhyInfo {
        let verdicts = Scheduler.explain(workload, input, now: now) ?? []
        let candidates = verdicts.map {
            CandidateInfo(node: $0.name, excluded: $0.excluded?.description, score: $0.roomAfter, instances: $0.instancesHere)
        }
        var pending = pending(workload)
        var placement: PlacementInfo?, lastMove: String?
        if let instance {
            pending = pending.filter { $0.instance == instance }
            let slot = InstanceSlot(workload, instance)
            if let r = state.placements.values.filter({ $0.placement.slot == slot }).max(by: { $0.id < $1.id }) {
                placement = placementInfo(r)
                var text = "placed on \(name(r.placement.node)) as \(r.id) by the log entry at index \(r.index)"
                if let old = r.placement.replaces {
                    let stop = state.recentStops.last { $0.placement == old }
                    text += ", replacing \(old)" + (stop.map { " (\($0.reason))" } ?? "")
                }
                lastMove = text
            } else if let stop = state.recentStops.last(where: { $0.slot == slot }) {
                lastMove = "\(stop.placement) stopped by the log entry at index \(stop.index): \(stop.reason)"
            }
        }
        return WhyInfo(workload: workload, instance: instance, candidates: candidates, placement: placement,
                       pending: pending, lastMove: lastMove)
    }

    /// `ps`: the rows the nodes reported, plus a row for each placement no node reported
    /// (`placed`) and each instance that waits (`pending`, with the reason).
    func addScheduledRows(to rows: [InstanceRow]) -> [InstanceRow] {
        var out = rows
        let reported = Set(rows.compactMap(\.placement))
        for r in state.placements.values.sorted(by: { $0.id < $1.id }) where !reported.contains(r.id.description) {
            let p = r.placement
            let reachability = input.nodes.first { $0.id == p.node }?.reachability
            let detail = switch reachability {
            case .alive?: "placed; not reported by its node yet"
            case .unreachable?: "its node is unreachable"
            case .left?, nil: "its node left the mesh"
            }
            out.append(InstanceRow(workload: p.slot.workload, instance: "\(p.slot.instance)", node: name(p.node), state: "placed",
                                   pid: nil, restarts: 0, started: nil, cpu: nil, rss: nil, detail: detail, adopted: false,
                                   command: state.workloads[p.slot.workload]?.spec.command.joined(separator: " ") ?? "",
                                   placement: p.id.description))
        }
        for place in plan.place {
            out.append(InstanceRow(workload: place.slot.workload, instance: "\(place.slot.instance)", node: "", state: "pending",
                                   pid: nil, restarts: 0, started: nil, cpu: nil, rss: nil, detail: "waiting for the leader's next plan",
                                   adopted: false, command: state.workloads[place.slot.workload]?.spec.command.joined(separator: " ") ?? ""))
        }
        for pending in plan.pending {
            out.append(InstanceRow(workload: pending.slot.workload, instance: "\(pending.slot.instance)", node: "", state: "pending",
                                   pid: nil, restarts: 0, started: nil, cpu: nil, rss: nil, detail: pending.reason, adopted: false,
                                   command: state.workloads[pending.slot.workload]?.spec.command.joined(separator: " ") ?? ""))
        }
        return out.sorted { ($0.workload, $0.instance, $0.node) < ($1.workload, $1.instance, $1.node) }
    }
}
