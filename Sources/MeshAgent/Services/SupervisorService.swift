import Foundation
import Logging
import MeshAPI
import MeshCore
import Stats
import Supervisor
#if canImport(Glibc)
import Glibc
#endif

/// The agent's supervisor shell: owns the node's one `Supervisor` (state in
/// `DATA/supervisor/`, output in `DATA/logs/`), records each of its state changes in the
/// event log as a `workload.*` event, and answers local control and listings.
///
/// No error of a workload stops the agent: a start that fails is an error answer and a
/// `workload.start_failed` event, nothing more.
actor SupervisorService {
    let supervisor: Supervisor
    let nodeName: String
    let logger: Logger
    /// When this agent started or adopted each instance (wall ms), for `ps`.
    private var startedAt: [InstanceID: UInt64] = [:]
    private var pump: Task<Void, Never>?

    /// Opens the supervisor; raises the soft RLIMIT_NOFILE to the hard limit first (each
    /// instance holds five descriptors in the agent).
    init(dataDirectory: String, recovery: RecoveryAction, nodeName: String, logger: Logger) throws(SupervisorError) {
        Self.raiseFileLimit(logger: logger)
        var settings = SupervisorSettings.default(dataDirectory: dataDirectory)
        settings.onRecovery = recovery
        supervisor = try Supervisor(settings: settings)
        self.nodeName = nodeName
        self.logger = logger
    }

    /// Starts recording events (through `record`), then adopts or stops what the previous
    /// agent left running, as configured.
    func start(record: @escaping @Sendable (String, [String: String]) async -> Void) async {
        let events = supervisor.events
        pump = Task { [weak self] in
            for await event in events {
                await self?.observe(event)
                let (kind, attributes) = Self.eventLogEntry(event)
                await record(kind, attributes)
            }
        }
        do {
            let adopted = try await supervisor.recover()
            if !adopted.isEmpty { logger.info("adopted \(adopted.count) running instance(s) of the previous agent") }
        } catch {
            logger.error("\(error)")
            await record("workload.recovery_failed", ["error": error.description])
        }
    }

    /// Agent shutdown: stops every instance that does not survive the agent, lets go of the
    /// rest for the next agent to adopt.
    func shutdown() async {
        await supervisor.shutdown()
        await pump?.value   // detaching ended the event stream: the last `stopped` events are recorded
    }

    /// Called after each supervisor event (the node reconciler's trigger).
    private var onEvent: (@Sendable () -> Void)?
    func setOnEvent(_ f: @escaping @Sendable () -> Void) { onEvent = f }

    private func observe(_ event: SupervisorEvent) {
        onEvent?()
        switch event.kind {
        case .started, .adopted: startedAt[event.instance] = AgentService.wallMilliseconds()
        default: break
        }
    }

    /// `instance.started` → `workload.started`, with the workload's name added.
    static func eventLogEntry(_ event: SupervisorEvent) -> (String, [String: String]) {
        var attributes = event.attributes
        let id = event.instance.rawValue
        attributes["workload"] = id.firstIndex(of: ".").map { String(id[..<$0]) } ?? id
        return ("workload." + event.name.dropFirst("instance.".count), attributes)
    }

    // MARK: Local control

    /// Why a start request was refused, for the API's status code.
    enum StartRefusal: Error, Sendable {
        case badRequest(String)
        case conflict(String)
        case agentFailure(String)
    }

    /// Validates a start request, starts the instance, and returns its row. `requestedBy`
    /// (``APIRoutes/requesterAttributes(_:context:)``) goes into the `workload.started` or
    /// `workload.start_failed` event.
    func start(_ request: InstanceStartRequest, requestedBy: [String: String] = [:],
               record: @Sendable (String, [String: String]) async -> Void) async throws(StartRefusal) -> InstanceRow {
        let id: InstanceID, spec: ProcessSpec
        do throws(StartRefusal) {
            (id, spec) = try Self.spec(from: request)
        } catch {
            if case let .badRequest(why) = error {
                await record("workload.start_failed", requestedBy.merging(["instance": "\(request.name).\(request.instance ?? "0")",
                                                                           "workload": request.name, "error": String(why.prefix(300))]) { $1 })
            }
            throw error
        }
        do {
            try await supervisor.start(id, spec, requestedBy: requestedBy)   // a refusal is also emitted as `startFailed`
        } catch {
            switch error {
            case .alreadyRunning: throw .conflict(error.description)
            case .logDirectoryUnwritable, .stateFile, .spawnFailed, .detached: throw .agentFailure(error.description)
            default: throw .badRequest(error.description)
            }
        }
        return row(await supervisor.info(id)!, stats: nil)
    }

    /// Stops an instance (SIGTERM, grace, SIGKILL); it stays listed as `stopped`.
    /// `requestedBy` goes into the `workload.stopped` event.
    func stop(_ text: String, requestedBy: [String: String] = [:]) async throws(SupervisorError) -> InstanceStopResult {
        let id = try InstanceID(text)
        let began = ContinuousClock.now
        let status = try await supervisor.stop(id, requestedBy: requestedBy)
        return InstanceStopResult(instance: id.rawValue, result: status?.description ?? "not running",
                                  seconds: (ContinuousClock.now - began).seconds)
    }

    /// Names of workloads and instances: what `InstanceID` allows, minus `.` (the separator).
    static let maxNameBytes = 64

    static func spec(from r: InstanceStartRequest) throws(StartRefusal) -> (InstanceID, ProcessSpec) {
        let instance = r.instance ?? "0"
        for (label, value) in [("name", r.name), ("instance", instance)] {
            guard !value.isEmpty, value.utf8.count <= maxNameBytes, !value.contains("."),
                  (try? InstanceID(value)) != nil else {
                throw .badRequest("\(label) '\(value)': use 1-\(maxNameBytes) letters, digits, '-' or '_'")
            }
        }
        guard !r.command.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw .badRequest("no command: give the program to run, e.g. \"command\": \"/usr/bin/python3\"")
        }
        let policy: RestartPolicy
        if let text = r.restart {
            guard let p = RestartPolicy(rawValue: text) else {
                throw .badRequest("restart '\(text)': use always, on-failure or never")
            }
            policy = p
        } else {
            policy = .onFailure
        }
        var grace: Duration?
        if let seconds = r.graceSeconds {
            guard seconds >= 0, seconds <= 3600 else { throw .badRequest("grace_seconds \(seconds): use 0-3600") }
            grace = .milliseconds(Int64(seconds * 1000))
        }
        if let dir = r.workdir {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw .badRequest(SupervisorError.workingDirectoryMissing(dir).description)
            }
        }
        let id = try! InstanceID("\(r.name).\(instance)")
        return (id, ProcessSpec(command: r.command, arguments: r.args ?? [], environment: r.env ?? [:],
                                workingDirectory: r.workdir, restartPolicy: policy, stopGracePeriod: grace,
                                survivesAgent: r.surviveAgent ?? false, openStdin: r.stdin ?? false))
    }

    // MARK: Listing

    /// Every instance this supervisor knows, with cpu and rss where the stats have them.
    func rows(stats: [InstanceID: ProcessStats]) async -> [InstanceRow] {
        await supervisor.list().map { row($0, stats: stats[$0.id]) }
    }

    private func row(_ info: InstanceInfo, stats: ProcessStats?) -> InstanceRow {
        let raw = info.id.rawValue
        let (workload, instance) = raw.lastIndex(of: ".").map { (String(raw[..<$0]), String(raw[raw.index(after: $0)...])) }
            ?? (raw, "")
        var pid: Int32?, detail: String?
        let state: String
        switch info.state {
        case .starting: state = "starting"
        case let .running(p): state = "running"; pid = p
        case let .stopping(p): state = "stopping"; pid = p
        case let .backingOff(attempt, delay): state = "backing-off"; detail = "restart \(attempt) in \(delay)"
        case let .exited(status): state = "exited"; detail = status.description
        case let .stopped(status): state = "stopped"; detail = status?.description
        case let .failed(reason): state = "failed"; detail = reason
        }
        // The process's own start (an adopted one started before this agent); else when this
        // agent started or adopted it.
        let started = (info.processStartedAtMilliseconds ?? startedAt[info.id]).map {
            APITime.iso8601(milliseconds: Int64($0))
        }
        let running = pid != nil
        return InstanceRow(workload: workload, instance: instance, node: nodeName, state: state, pid: pid,
                           restarts: info.restarts, started: started,
                           cpu: running ? stats?.cpuPercent : nil, rss: running ? stats?.snapshot.residentBytes : nil,
                           detail: detail, adopted: info.adopted,
                           command: ([info.spec.command] + info.spec.arguments).joined(separator: " "),
                           placement: info.spec.environment[SchedulingSettings.placementVariable])
    }

    /// Writes to the stdin of an instance started with `stdin` (`meshctl attach`).
    func writeStdin(_ text: String, _ bytes: [UInt8]) async -> NodeReply {
        guard let id = try? InstanceID(text), await supervisor.info(id) != nil else {
            return .execRefused(.unknownInstance("no instance \(text) on \(nodeName)"))
        }
        do throws(SupervisorError) {
            try await supervisor.writeStdin(id, bytes)
            return .stdinWritten(bytes: bytes.count)
        } catch {
            switch error {
            case .noStdin: return .execRefused(.noStdin(error.description))
            default: return .execRefused(.stdinUnavailable(error.description))
            }
        }
    }

    /// The spec of an instance on this node (what `exec NAME.INSTANCE` runs in).
    func spec(of text: String) async -> ProcessSpec? {
        guard let id = try? InstanceID(text) else { return nil }
        return await supervisor.spec(of: id)
    }

    // MARK: Logs

    /// A chunk of an instance's output: its tail (no cursor) or what follows the cursor.
    func logChunk(_ request: LogRequest) async -> NodeReply {
        guard let id = try? InstanceID(request.instance), await supervisor.info(id) != nil else {
            return .refused("no instance \(request.instance) on \(nodeName)")
        }
        let maxBytes = max(1, min(request.maxBytes, AgentLimits.maxLogChunkBytes))
        let chunk = if let cursor = request.cursor {
            supervisor.readChunk(id, stream: request.stream, from: cursor, maxBytes: maxBytes)
        } else {
            supervisor.tailChunk(id, stream: request.stream, lines: min(max(0, request.tailLines), AgentLimits.maxLogTailLines),
                                 maxBytes: maxBytes)
        }
        return .logs(LogChunkReply(data: Data(chunk.data), next: chunk.next, resumedAt: chunk.resumedAt))
    }

    /// Raises the soft limit on open files to the hard limit.
    static func raiseFileLimit(logger: Logger) {
        #if canImport(Glibc)
        var limit = rlimit()
        guard getrlimit(RLIMIT_NOFILE_VALUE, &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        let before = limit.rlim_cur
        limit.rlim_cur = limit.rlim_max
        if setrlimit(RLIMIT_NOFILE_VALUE, &limit) != 0 {
            logger.warning("cannot raise the open-file limit from \(before) to \(limit.rlim_max): \(String(cString: strerror(errno)))")
        }
        #endif
    }
}

#if canImport(Glibc)
/// Glibc imports RLIMIT_NOFILE as an enum case of `__rlimit_resource`.
private let RLIMIT_NOFILE_VALUE = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
#endif
