import Consensus
import Logging
import MeshCore
import Scheduler
import Supervisor
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Every agent's side of scheduling, voter or not: level-triggered reconciliation of the
/// placements on this node (read from its own control replica) with what its supervisor
/// runs. A pass is triggered by a change (the replica applied an entry, a supervised
/// instance changed state, the node's view of the voters changed, a
/// `stop_after_disconnect` fell due) and by a slow timer; a wake-up that finds none of
/// these changed copies nothing (`ReconcileTrigger`).
///
/// - A placement here with no instance of it running is started, once: the ids started
///   are kept in the node's `PlacementLedger` (in the data directory), and an instance
///   carries its placement id in its environment (`MESHD_PLACEMENT`), so after an agent
///   restart what still runs is adopted and what ended stays ended. A workload with a git
///   source is fetched into the instance's checkout first; a failed fetch fails the start
///   (`workload.start_failed` with the reason; the instance is `failed`, reported below).
/// - An active instance whose placement is no longer here is stopped, with the reason the
///   plan gave (`workload.stopped` with `by=scheduler`, `placement`, `reason`).
/// - While the node sees no majority of voters (`DisconnectWatch`), the instances of a
///   workload with `stop_after_disconnect` are stopped once that long has passed; when it
///   sees a majority again it gives those placements up (`released`), and the leader
///   places the slots afresh unless their replacements run.
/// - An instance that exhausted its restarts is reported to the leader (`crashLoop`), which
///   moves it; a rolling restart restarts one placement at a time (`WorkloadState.mayRestart`)
///   and reports each (`restarted`); a running instance's process start time is reported
///   (`running`) for `on_heal: longest_running`.
/// - Instances started with `meshctl local run` (no placement id) are left alone.
actor NodeReconciler {
    /// The mesh-wide variables as this node's replica held them at the last pass, for
    /// `{{var:KEY}}` (read once per pass, with the workload state).
    var vars: [String: String] = [:]
    let consensus: ConsensusService
    let supervisor: Supervisor
    let runtime: MeshRuntime
    let nodeID: NodeID
    let nodeName: String
    let dataDirectory: String
    let logger: Logger
    /// Placements this node started or adopted, or stopped after a disconnect.
    private var ledger = PlacementLedger()
    private var savedLedger = PlacementLedger()
    private var ledgerPath: String { "\(dataDirectory)/\(SchedulingSettings.ledgerFile)" }
    private var watch = DisconnectWatch()
    private var trigger = ReconcileTrigger()
    /// Supervisor events seen (bumped from its event pump, without the actor).
    private nonisolated let instanceChanges = Atomic<UInt64>(0)
    /// The one wake-up pending for the next `stop_after_disconnect` that falls due.
    private var dueWake: (at: MeshTime, task: Task<Void, Never>)?
    /// Reports sent, not yet seen applied: sent again after `reportRetry`.
    private var reported: [String: ContinuousClock.Instant] = [:]
    static let reportRetry = Duration.seconds(5)
    private let loop = CoalescingLoop()
    private var counters = (reconciled: UInt64(0), idle: UInt64(0), disconnectStops: UInt64(0), sourceFailures: UInt64(0))

    init(consensus: ConsensusService, supervisor: Supervisor, runtime: MeshRuntime, nodeID: NodeID, nodeName: String,
         dataDirectory: String, logger: Logger) {
        self.consensus = consensus; self.supervisor = supervisor; self.runtime = runtime
        self.nodeID = nodeID; self.nodeName = nodeName; self.dataDirectory = dataDirectory
        self.logger = logger
    }

    /// Reconciles soon (the replica moved, or the node's view of the voters); coalesced
    /// with a pass already due.
    nonisolated func nudge() { loop.nudge() }

    /// A supervised instance changed state (any supervisor event).
    nonisolated func instanceChanged() {
        instanceChanges.add(1, ordering: .relaxed)
        loop.nudge()
    }

    /// Loads the ledger the previous agent left (a bad one is set aside and reported:
    /// starting with an empty ledger may start an exited instance again, never lose a
    /// running one, which the supervisor adopts), then reconciles until `stop()`.
    func start() {
        do { ledger = try PlacementLedger.load(ledgerPath) } catch {
            logger.error("placement ledger unreadable; starting with an empty one", metadata: ["path": "\(ledgerPath)", "error": "\(error)"])
            rename(ledgerPath, ledgerPath + ".bad")
        }
        savedLedger = ledger
        loop.start(every: SchedulingSettings.reconcileInterval) { [weak self] in await self?.pass() }
    }

    /// Agent shutdown: no more passes, and the placements whose instances the agent's own
    /// shutdown is about to stop leave the ledger, so the next agent starts them again if
    /// they are still placed here (see `PlacementLedger`).
    func stop() async {
        loop.stop()
        dueWake?.task.cancel()
        for info in await supervisor.list() where info.state.isActive {
            guard let id = info.spec.environment[SchedulingSettings.placementVariable].flatMap(Self.placementID),
                  ledger[id] == .started else { continue }
            ledger[id] = nil
        }
        saveLedger()
    }

    /// One wake-up: reads two scalars, and reconciles only when something moved.
    func pass() async {
        let (applied, sight) = await consensus.schedulingSignals()
        let now = MeshClock.now()
        switch watch.observe(reachableVoters: sight.reachable, voters: sight.voters, now: now) {
        case .disconnected?:
            logger.warning("no majority of voters in sight: instances with stop_after_disconnect stop when it is due",
                           metadata: ["reachable": "\(sight.reachable)", "voters": "\(sight.voters)"])
        case let .reconnected(after)?:
            logger.notice("a majority of voters in sight again", metadata: ["after": "\(after)"])
        case nil: break
        }
        let signals = ReconcileTrigger.Signals(applied: applied, instanceChanges: instanceChanges.load(ordering: .relaxed),
                                               disconnectedSince: watch.since)
        guard trigger.shouldReconcile(signals, now: now, due: dueWake.map { now >= $0.at } ?? false,
                                      reportsOutstanding: !reported.isEmpty) else {
            counters.idle += 1
            return
        }
        counters.reconciled += 1
        await reconcile(now: now)
    }

    /// The reconciler's `/metrics` families.
    func metricsText() -> String {
        var t = PrometheusText()
        t.family("meshd_reconciler_wakeups_total", .counter,
                 help: "Node reconciler wake-ups: reconciled (something moved) or idle (nothing moved, nothing copied).",
                 [(labels: [("outcome", "idle")], value: Double(counters.idle)),
                  (labels: [("outcome", "reconciled")], value: Double(counters.reconciled))])
        t.family("meshd_reconciler_disconnect_stops_total", .counter,
                 help: "Instances stopped after stop_after_disconnect without a majority of voters in sight.",
                 value: Double(counters.disconnectStops))
        t.family("meshd_reconciler_source_failures_total", .counter,
                 help: "Starts that failed because the workload's git source could not be fetched.", value: Double(counters.sourceFailures))
        return t.text
    }

    /// One reconciliation: stops first (a slot moving within this node frees its name),
    /// then starts, restarts and reports.
    func reconcile(now: MeshTime) async {
        let control = await consensus.state
        let state = control.workloads
        vars = control.vars.mapValues(\.value)
        let mine = state.placements.values.filter { $0.placement.node == nodeID }.sorted { $0.id < $1.id }
        let here = Set(mine.map(\.id.description))
        var infos = Dictionary(await supervisor.list().map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var wanted: Set<String> = []

        for info in infos.values where info.state.isActive {
            guard let marker = info.spec.environment[SchedulingSettings.placementVariable], !here.contains(marker) else { continue }
            // An id this replica has not handed out yet is not "no longer placed": the
            // replica is behind the entry that placed it (an agent that just restarted and
            // adopted it, before its replica caught up). The next pass after it does decides.
            if let id = Self.placementID(marker), id.value >= state.nextPlacement { continue }
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
            if ours, ledger[rec.id] == nil { ledger[rec.id] = .started }

            if watch.mustStop(spec, now: now), ledger[rec.id] != .stoppedDisconnected {
                let limit = spec.stopAfterDisconnect ?? .zero
                if ours, info!.state.isActive {
                    logger.warning("stopping an instance: no majority of voters in sight for its stop_after_disconnect",
                                   metadata: ["instance": "\(id)", "placement": "\(rec.id)"])
                    _ = try? await supervisor.stop(id, requestedBy: ["by": "scheduler", "placement": rec.id.description,
                                                                     "reason": Self.disconnectReason(limit)])
                    counters.disconnectStops += 1
                }
                ledger[rec.id] = .stoppedDisconnected
            }
            if ledger[rec.id] == .stoppedDisconnected {
                if watch.since == nil {
                    let key = "release \(rec.id)"
                    wanted.insert(key)
                    await report(.released(placement: rec.id, reason: Self.disconnectReason(spec.stopAfterDisconnect ?? .zero)), key: key)
                }
                continue
            }
            if ours, case .failed = info!.state {
                let key = "crash \(rec.id)"
                wanted.insert(key)
                await report(.crashLoop(placement: rec.id, at: SchedulerView.wallNow()), key: key)
                continue
            }
            if state.mayRestart(rec.id) {
                let generation = state.workloads[spec.name]!.generation
                if ours, info!.state.isActive {
                    if hosts == nil { hosts = await runtime.memberHosts() }
                    await restart(id, rec, spec, state, hosts: hosts!, why: "rolling restart \(generation)")
                }
                let key = "restart \(rec.id) \(generation)"
                wanted.insert(key)
                await report(.restarted(placement: rec.id, generation: generation), key: key)
                continue
            }
            if info?.state.isActive == true {
                guard ours else { continue }
                if let ms = info!.processStartedAtMilliseconds {
                    let since = MeshTime(nanoseconds: Int64(ms) * 1_000_000)
                    if rec.startedAt.map({ abs(($0 - since).seconds) > SchedulingSettings.startTimeTolerance.seconds }) ?? true {
                        let key = "running \(rec.id) \(ms / 1000)"
                        wanted.insert(key)
                        await report(.running(placement: rec.id, since: since), key: key)
                    }
                }
                guard spec.restartOnPeerChange else { continue }
                if hosts == nil { hosts = await runtime.memberHosts() }
                if processSpec(rec, spec, state, hosts: hosts!).arguments != info!.spec.arguments {
                    await restart(id, rec, spec, state, hosts: hosts!, why: "its peers changed")
                }
                continue
            }
            guard ledger[rec.id] == nil, !watch.mustStop(spec, now: now) else { continue }
            if hosts == nil { hosts = await runtime.memberHosts() }
            // Saved after the start, with the rest of the pass: a crash in between leaves the
            // instance in the supervisor's state file with its placement id, adopted as ours.
            ledger[rec.id] = .started
            await launch(id, rec, spec, state, hosts: hosts!, asker: ["by": "scheduler", "placement": rec.id.description])
        }
        ledger.prune(keeping: Set(state.placements.keys), nextPlacement: state.nextPlacement)
        saveLedger()
        reported = reported.filter { wanted.contains($0.key) }
        scheduleDueWake(mine.compactMap { state.workloads[$0.placement.slot.workload]?.spec }, now: now)
    }

    /// The placement id an instance's `MESHD_PLACEMENT` names (`p7`).
    static func placementID(_ marker: String) -> PlacementID? {
        guard marker.hasPrefix("p"), let value = UInt64(marker.dropFirst()) else { return nil }
        return PlacementID(value)
    }

    static func disconnectReason(_ limit: Duration) -> String {
        "no majority of voters in sight for \(Int(limit.seconds)) s (stop_after_disconnect)"
    }

    /// Wakes the loop when the next `stop_after_disconnect` of these specs falls due.
    private func scheduleDueWake(_ specs: [WorkloadSpec], now: MeshTime) {
        guard let at = watch.nextDue(specs, now: now) else {
            dueWake?.task.cancel(); dueWake = nil
            return
        }
        guard dueWake?.at != at else { return }
        dueWake?.task.cancel()
        let loop = self.loop
        dueWake = (at, Task {
            try? await Task.sleep(for: at - now)
            if !Task.isCancelled { loop.nudge() }
        })
    }

    private func saveLedger() {
        guard ledger != savedLedger else { return }
        do {
            try ledger.save(ledgerPath)
            savedLedger = ledger
        } catch {
            logger.error("cannot save the placement ledger; an agent restart may start an exited instance again",
                         metadata: ["path": "\(ledgerPath)", "error": "\(error)"])
        }
    }

    /// What the supervisor runs for a placement: the spec's command and environment values
    /// with the templates expanded (`vars` as of this pass), its placement id in the environment.
    func processSpec(_ rec: PlacementRecord, _ spec: WorkloadSpec, _ state: WorkloadState, hosts: [NodeID: String]) -> ProcessSpec {
        let slot = rec.placement.slot
        let context = Template.Context(instance: slot.instance, node: nodeName, workload: slot.workload,
                                       peers: SchedulerView.peers(of: slot, state, hosts: hosts), vars: vars)
        let command = spec.command.map { Template.expand($0, context) }
        var environment = spec.environment.mapValues { Template.expand($0, context) }
        environment[SchedulingSettings.placementVariable] = rec.id.description
        return ProcessSpec(command: command[0], arguments: Array(command.dropFirst()), environment: environment,
                           workingDirectory: spec.workingDirectory, restartPolicy: RestartPolicy(rawValue: spec.restart) ?? .onFailure)
    }

    func restart(_ id: InstanceID, _ rec: PlacementRecord, _ spec: WorkloadSpec, _ state: WorkloadState,
                 hosts: [NodeID: String], why: String) async {
        let asker = ["by": "scheduler", "placement": rec.id.description, "reason": why]
        _ = try? await supervisor.stop(id, requestedBy: asker)
        await launch(id, rec, spec, state, hosts: hosts, asker: asker)
    }

    /// Fetches the workload's git source into the instance's checkout (when it has one),
    /// then starts the instance there. A failed fetch fails the start: the supervisor lists
    /// the instance `failed` with the reason and records `workload.start_failed`.
    func launch(_ id: InstanceID, _ rec: PlacementRecord, _ spec: WorkloadSpec, _ state: WorkloadState,
                hosts: [NodeID: String], asker: [String: String]) async {
        var process = processSpec(rec, spec, state, hosts: hosts)
        if let source = spec.source {
            let checkout = GitSource.directory(dataDirectory: dataDirectory, instance: id.rawValue)
            switch await GitSource.fetch(source, into: checkout) {
            case .success:
                process.workingDirectory = GitSource.workingDirectory(checkout: checkout, spec: spec)
            case let .failure(error):
                logger.warning("cannot fetch a placed instance's source", metadata: ["instance": "\(id)", "error": "\(error)"])
                counters.sourceFailures += 1
                try? await supervisor.failBeforeStart(id, process, reason: error.description, requestedBy: asker)
                return
            }
        }
        do { try await supervisor.start(id, process, requestedBy: asker) } catch {
            logger.warning("cannot start a placed instance", metadata: ["instance": "\(id)", "error": "\(error)"])
            // `workload.start_failed` is recorded by the supervisor; the instance is
            // `failed`, which the next pass reports as a crash loop.
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
