import Consensus
import Logging
import MeshCore
import Scheduler
import Supervisor

/// Every agent's side of scheduling, voter or not: level-triggered reconciliation of the
/// placements on this node (read from its own control replica) with what its supervisor
/// runs, whenever the replica moves and every `SchedulingSettings.reconcileInterval`.
///
/// - A placement here with no instance of it running is started, once: the ids started
///   are remembered for the agent's life, and an instance carries its placement id in its
///   environment (`MESHD_PLACEMENT`), so one adopted after an agent restart counts as
///   started. An instance that exited stays exited (its restart policy decided).
/// - An active instance whose placement is no longer here is stopped, with the reason the
///   plan gave (`workload.stopped` with `by=scheduler`, `placement`, `reason`).
/// - An instance that exhausted its restarts is reported to the leader (`crashLoop`), which
///   moves it; a rolling restart restarts one placement at a time (`WorkloadState.mayRestart`)
///   and reports each (`restarted`).
/// - Instances started with `meshctl local run` (no placement id) are left alone.
actor NodeReconciler {
    let consensus: ConsensusService
    let supervisor: Supervisor
    let runtime: MeshRuntime
    let nodeID: NodeID
    let nodeName: String
    let record: @Sendable (String, [String: String]) async -> Void
    let logger: Logger
    /// Placements this agent started or adopted (never started twice).
    private var started: Set<PlacementID> = []
    /// Reports sent, not yet seen applied: sent again after `reportRetry`.
    private var reported: [String: ContinuousClock.Instant] = [:]
    static let reportRetry = Duration.seconds(5)
    private let loop = CoalescingLoop()

    init(consensus: ConsensusService, supervisor: Supervisor, runtime: MeshRuntime, nodeID: NodeID, nodeName: String,
         record: @escaping @Sendable (String, [String: String]) async -> Void, logger: Logger) {
        self.consensus = consensus; self.supervisor = supervisor; self.runtime = runtime
        self.nodeID = nodeID; self.nodeName = nodeName; self.record = record; self.logger = logger
    }

    /// Reconciles soon (the replica moved); coalesced with a pass already due.
    nonisolated func nudge() { loop.nudge() }

    func start() {
        loop.start(every: SchedulingSettings.reconcileInterval) { [weak self] in await self?.pass() }
    }

    func stop() { loop.stop() }

    /// One reconciliation: stops first (a slot moving within this node frees its name),
    /// then starts, restarts and reports.
    func pass() async {
        let state = await consensus.state.workloads
        let mine = state.placements.values.filter { $0.placement.node == nodeID }.sorted { $0.id < $1.id }
        let here = Set(mine.map(\.id.description))
        var infos = Dictionary(await supervisor.list().map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })

        for info in infos.values where info.state.isActive {
            guard let marker = info.spec.environment[SchedulingSettings.placementVariable], !here.contains(marker) else { continue }
            let reason = state.recentStops.last { $0.placement.description == marker }?.reason ?? "no longer placed on \(nodeName)"
            logger.info("stopping an instance no longer placed here", metadata: ["instance": "\(info.id)", "placement": "\(marker)"])
            _ = try? await supervisor.stop(info.id, requestedBy: ["by": "scheduler", "placement": marker, "reason": String(reason.prefix(300))])
            infos[info.id] = await supervisor.info(info.id)
        }

        var hosts: [NodeID: String]?
        for rec in mine {
            guard let spec = state.workloads[rec.placement.slot.workload]?.spec,
                  let id = try? InstanceID(rec.placement.slot.description) else { continue }
            let info = infos[id]
            let ours = info?.spec.environment[SchedulingSettings.placementVariable] == rec.id.description
            if ours { started.insert(rec.id) }
            if ours, case .failed = info!.state {
                await report(.crashLoop(placement: rec.id, at: SchedulerView.wallNow()), key: "crash \(rec.id)")
                continue
            }
            if state.mayRestart(rec.id) {
                let generation = state.workloads[spec.name]!.generation
                if ours, info!.state.isActive {
                    if hosts == nil { hosts = await runtime.memberHosts() }
                    await restart(id, rec, spec, state, hosts: hosts!, why: "rolling restart \(generation)")
                }
                await report(.restarted(placement: rec.id, generation: generation), key: "restart \(rec.id) \(generation)")
                continue
            }
            if info?.state.isActive == true {
                guard ours, spec.restartOnPeerChange else { continue }
                if hosts == nil { hosts = await runtime.memberHosts() }
                if processSpec(rec, spec, state, hosts: hosts!).arguments != info!.spec.arguments {
                    await restart(id, rec, spec, state, hosts: hosts!, why: "its peers changed")
                }
                continue
            }
            guard !started.contains(rec.id) else { continue }
            if hosts == nil { hosts = await runtime.memberHosts() }
            started.insert(rec.id)
            do {
                try await supervisor.start(id, processSpec(rec, spec, state, hosts: hosts!),
                                           requestedBy: ["by": "scheduler", "placement": rec.id.description])
            } catch {
                logger.warning("cannot start a placed instance", metadata: ["instance": "\(id)", "error": "\(error)"])
                // `workload.start_failed` is recorded by the supervisor; the instance is
                // `failed`, which the next pass reports as a crash loop.
            }
        }
        let live = Set(state.placements.keys)
        started = started.filter(live.contains)
    }

    /// What the supervisor runs for a placement: the spec's command with the templates
    /// expanded, its placement id in the environment.
    func processSpec(_ rec: PlacementRecord, _ spec: WorkloadSpec, _ state: WorkloadState, hosts: [NodeID: String]) -> ProcessSpec {
        let slot = rec.placement.slot
        let context = Template.Context(instance: slot.instance, node: nodeName, workload: slot.workload,
                                       peers: SchedulerView.peers(of: slot, state, hosts: hosts))
        let command = spec.command.map { Template.expand($0, context) }
        var environment = spec.environment
        environment[SchedulingSettings.placementVariable] = rec.id.description
        return ProcessSpec(command: command[0], arguments: Array(command.dropFirst()), environment: environment,
                           workingDirectory: spec.workingDirectory, restartPolicy: RestartPolicy(rawValue: spec.restart) ?? .onFailure)
    }

    func restart(_ id: InstanceID, _ rec: PlacementRecord, _ spec: WorkloadSpec, _ state: WorkloadState,
                 hosts: [NodeID: String], why: String) async {
        let asker = ["by": "scheduler", "placement": rec.id.description, "reason": why]
        _ = try? await supervisor.stop(id, requestedBy: asker)
        do { try await supervisor.start(id, processSpec(rec, spec, state, hosts: hosts), requestedBy: asker) } catch {
            logger.warning("cannot restart a placed instance", metadata: ["instance": "\(id)", "error": "\(error)"])
        }
    }

    /// Sends a report to the leader (forwarded like any command), at most once per
    /// `reportRetry` until the state shows it applied.
    func report(_ command: WorkloadCommand, key: String) async {
        let now = ContinuousClock.now
        if let last = reported[key], now - last < Self.reportRetry { return }
        reported[key] = now
        if reported.count > 4096 { reported = reported.filter { now - $0.value < Self.reportRetry } }
        if case let .failure(e) = await consensus.submit(.workload(command), requester: "node:\(nodeName)") {
            logger.info("report to the leader not committed; sent again later", metadata: ["report": "\(key)", "error": "\(e)"])
        }
    }
}
