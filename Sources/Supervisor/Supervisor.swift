import Foundation
import MeshCore
#if canImport(Glibc)
import Glibc
#endif

/// Runs this node's instances: starts each in its own process group with its output
/// captured and rotated, stops it (SIGTERM to the group, grace period, SIGKILL), restarts it
/// per policy with exponential backoff, and finds it again after an agent restart.
///
/// Every state change is a ``SupervisorEvent`` on ``events`` (one consumer: the agent, which
/// appends them to the event log). Bad input never stops the supervisor: it is a thrown
/// ``SupervisorError`` and a `startFailed` event.
///
/// Usage by the agent:
/// ```swift
/// let supervisor = try Supervisor(settings: .default(dataDirectory: dir))
/// Task { for await event in supervisor.events { /* append to the event log */ } }
/// try await supervisor.recover()                    // adopt what the last agent left
/// try await supervisor.start("web.0", ProcessSpec(command: "python3", arguments: ["app.py"]))
/// let status = try await supervisor.stop("web.0")   // SIGTERM, grace, SIGKILL
/// ```
public actor Supervisor {
    public nonisolated let settings: SupervisorSettings
    /// State changes, in order. Buffered up to `settings.eventBufferLimit` (oldest dropped).
    public nonisolated let events: AsyncStream<SupervisorEvent>
    private let eventSink: AsyncStream<SupervisorEvent>.Continuation
    private let io: LogIO
    private let stateFile: StateFile
    private let clockOrigin = ContinuousClock.now
    private var instances: [InstanceID: Instance] = [:]
    private var detached = false

    /// Creates the state directory (mode 0700). Log folders are created per instance on
    /// start, so a bad log directory is an error of that start, not of the agent.
    public init(settings: SupervisorSettings) throws(SupervisorError) {
        self.settings = settings
        (events, eventSink) = AsyncStream.makeStream(of: SupervisorEvent.self,
                                                     bufferingPolicy: .bufferingNewest(settings.eventBufferLimit))
        io = LogIO(chunkBytes: settings.logReadChunkBytes)
        stateFile = StateFile(path: settings.stateDirectory + "/supervisor.json")
        do {
            try FileManager.default.createDirectory(atPath: settings.stateDirectory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw .stateFile(path: settings.stateDirectory, reason: "cannot create the directory (\(error))")
        }
    }

    /// Closes the log pipes still open (their FIFOs stay for a later agent); processes are
    /// untouched.
    deinit { io.closeAll() }

    // MARK: - Requests

    /// Starts `id` (a new one, or one that exited, stopped or failed) and returns its pid.
    /// Throws (and emits `startFailed`) when the command, working directory, user or log
    /// folder is wrong; the instance is then `failed` and nothing runs. `requestedBy` (who
    /// asked, e.g. `["by": "local", "client": "127.0.0.1:50412"]`) is added to the attributes
    /// of the `started` or `startFailed` event that answers this request, not to later restarts.
    @discardableResult
    public func start(_ id: InstanceID, _ spec: ProcessSpec,
                      requestedBy: [String: String] = [:]) async throws(SupervisorError) -> Int32 {
        guard !detached else { throw .detached }
        if let existing = instances[id], existing.state.isActive { throw .alreadyRunning(id) }
        let instance: Instance
        do throws(SupervisorError) {
            if let existing = instances[id] { instance = existing } else { instance = try makeInstance(id, spec: spec) }
        } catch {
            emit(id, .startFailed(error), requestedBy: requestedBy)
            throw error
        }
        instances[id] = instance
        instance.startRequestedBy = requestedBy
        instance.spec = spec
        instance.adopted = false
        instance.planner.reset()
        do {
            return try await launch(instance)
        } catch {
            startFailed(instance, error, reason: error.description)
            throw error
        }
    }

    /// Records that `id` could not be started because a step before the spawn failed
    /// (`reason`, e.g. its git source could not be fetched): the instance is listed as
    /// `failed` with the reason and a `startFailed(.preparationFailed)` event says so, like a
    /// start whose command is missing; nothing runs. Throws when `id` is active.
    public func failBeforeStart(_ id: InstanceID, _ spec: ProcessSpec, reason: String,
                                requestedBy: [String: String] = [:]) throws(SupervisorError) {
        guard !detached else { throw .detached }
        if let existing = instances[id], existing.state.isActive { throw .alreadyRunning(id) }
        let instance: Instance
        if let existing = instances[id] { instance = existing } else { instance = try makeInstance(id, spec: spec) }
        instances[id] = instance
        instance.spec = spec
        instance.adopted = false
        instance.startRequestedBy = requestedBy
        startFailed(instance, .preparationFailed(reason), reason: reason)
    }

    /// Stops `id`: SIGTERM to its process group, SIGKILL to the group after the grace period
    /// (`gracePeriod`, else the spec's, else the default). Returns once it is gone, with how
    /// it ended (nil when nothing was running, e.g. it was waiting to restart). `requestedBy`
    /// is added to the `stopped` event this stop causes.
    @discardableResult
    public func stop(_ id: InstanceID, gracePeriod: Duration? = nil,
                     requestedBy: [String: String] = [:]) async throws(SupervisorError) -> ExitStatus? {
        guard !detached else { return nil }        // its processes belong to the next agent
        guard let instance = instances[id] else { throw .unknownInstance(id) }
        switch instance.state {
        case .running, .starting, .backingOff: instance.stopRequestedBy = requestedBy
        default: break   // already stopping: the first request's asker stands; not active: no event
        }
        let grace = gracePeriod ?? instance.spec.stopGracePeriod ?? settings.defaultStopGracePeriod
        switch instance.state {
        case let .running(pid):
            beginStop(instance, pid: pid, grace: grace)
        case .starting:
            instance.pendingStop = grace
        case .stopping:
            break
        case .backingOff:
            instance.timer?.cancel()
            instance.state = .stopped(nil)
            emit(id, .stopped(nil))
            persist(after: id)
            return nil
        case let .exited(status), let .stopped(status?):
            return status
        case .stopped(nil), .failed:
            return nil
        }
        return await withCheckedContinuation { instance.stopWaiters.append($0) }
    }

    /// Stops every active instance concurrently (agent shutdown that should leave nothing).
    public func stopAll() async {
        let active = instances.values.filter { $0.state.isActive }.map(\.id)
        await withTaskGroup(of: Void.self) { group in
            for id in active { group.addTask { _ = try? await self.stop(id) } }
        }
    }

    /// Agent shutdown: stops every active instance whose spec does not say it survives the
    /// agent, then lets go of the rest (``detach()``) for the next agent to adopt.
    public func shutdown() async {
        let active = instances.values.filter { $0.state.isActive && !$0.spec.survivesAgent }.map(\.id)
        await withTaskGroup(of: Void.self) { group in
            for id in active { group.addTask { _ = try? await self.stop(id) } }
        }
        detach()
    }

    /// Lets go of every process without stopping it, for the next agent to adopt (agent
    /// shutdown that keeps workloads running). Ends `events` and every `follow` stream;
    /// afterwards `start` throws and `stop` does nothing.
    public func detach() {
        detached = true
        for instance in instances.values {
            instance.timer?.cancel()
            instance.watcher?.cancel()
            instance.stdout.close()
            instance.stderr.close()
            for waiter in instance.stopWaiters { waiter.resume(returning: nil) }
            instance.stopWaiters = []
        }
        eventSink.finish()
    }

    /// Forgets an instance that no longer runs (its log files stay on disk).
    public func remove(_ id: InstanceID) throws(SupervisorError) {
        guard let instance = instances[id] else { throw .unknownInstance(id) }
        guard !instance.state.isActive else { throw .alreadyRunning(id) }
        instance.stdout.close()
        instance.stderr.close()
        instances[id] = nil
    }

    // MARK: - Queries

    public func info(_ id: InstanceID) -> InstanceInfo? { instances[id]?.info }

    public func list() -> [InstanceInfo] { instances.values.map(\.info).sorted { $0.id < $1.id } }

    /// The pid (= process group id) of every instance with a live process, for per-instance
    /// statistics (`StatsSampler.processes`).
    public func runningProcesses() -> [InstanceID: Int32] {
        var out: [InstanceID: Int32] = [:]
        for (id, instance) in instances {
            switch instance.state {
            case let .running(pid), let .stopping(pid): out[id] = pid
            default: break
            }
        }
        return out
    }

    /// The last `lines` lines of an instance's stream, across rotated files. Works for any
    /// instance whose folder exists, including ones a previous agent ran.
    public nonisolated func tail(_ id: InstanceID, stream: OutputStream, lines: Int) -> [String] {
        LogTail.lines(base: logBase(id, stream), maxFiles: settings.logMaxFiles, count: lines)
    }

    /// The last `tailLines` lines, then live output as it is written (across rotations and
    /// restarts) until the instance is removed or the supervisor detaches.
    public func follow(_ id: InstanceID, stream: OutputStream, tailLines: Int = 0) throws(SupervisorError) -> AsyncStream<[UInt8]> {
        guard let instance = instances[id] else { throw .unknownInstance(id) }
        return (stream == .stdout ? instance.stdout : instance.stderr).follow(tailLines: tailLines)
    }

    /// The folder holding an instance's log files.
    public nonisolated func logDirectory(of id: InstanceID) -> String { "\(settings.logDirectory)/\(id.rawValue)" }

    private nonisolated func logBase(_ id: InstanceID, _ stream: OutputStream) -> String {
        "\(logDirectory(of: id))/\(stream.rawValue).log"
    }

    // MARK: - Stdin

    /// The FIFO an instance started with `openStdin` reads as its stdin.
    public nonisolated func stdinPath(of id: InstanceID) -> String { "\(logDirectory(of: id))/stdin.fifo" }

    /// Makes (or reuses) the instance's stdin FIFO and opens it read-write for the child:
    /// the child then never sees end-of-file, and a writer never gets SIGPIPE.
    private func openStdinFIFO(_ id: InstanceID) throws(SupervisorError) -> Int32 {
        let path = stdinPath(of: id)
        var st = stat()
        if lstat(path, &st) == 0, (st.st_mode & S_IFMT) != S_IFIFO { unlink(path) }
        if mkfifo(path, 0o600) != 0, errno != EEXIST {
            throw .logDirectoryUnwritable(path: path, reason: "mkfifo: \(String(cString: strerror(errno)))")
        }
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw .logDirectoryUnwritable(path: path, reason: "open: \(String(cString: strerror(errno)))") }
        return fd
    }

    /// Writes `bytes` (at most `settings.maxStdinWriteBytes`) to the stdin of a running
    /// instance started with `openStdin`, without blocking: a FIFO the process does not
    /// read fast enough refuses the write (`stdinUnavailable`) rather than stalling the agent.
    /// Works for adopted instances too (the FIFO is found by its path).
    public func writeStdin(_ id: InstanceID, _ bytes: [UInt8]) throws(SupervisorError) {
        guard let instance = instances[id] else { throw .unknownInstance(id) }
        guard instance.spec.openStdin else { throw .noStdin(id) }
        switch instance.state {
        case .running, .stopping: break
        default: throw .stdinUnavailable(id, reason: "it is not running")
        }
        guard bytes.count <= settings.maxStdinWriteBytes else {
            throw .stdinUnavailable(id, reason: "\(bytes.count) bytes at once; at most \(settings.maxStdinWriteBytes)")
        }
        let fd = open(stdinPath(of: id), O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw .stdinUnavailable(id, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                let reason = errno == EAGAIN ? "its stdin is full (the process is not reading it)" : String(cString: strerror(errno))
                throw .stdinUnavailable(id, reason: written > 0 ? "\(reason), after \(written) bytes" : reason)
            }
            written += n
        }
    }

    /// The spec an instance runs with (its command, environment, working directory, user).
    public func spec(of id: InstanceID) -> ProcessSpec? { instances[id]?.spec }

    // MARK: - Recovery

    /// Reads the state file a previous agent left and, for each instance it lists: adopts it
    /// (keeps watching it) or stops it, per `settings.onRecovery`; one that died meanwhile
    /// is reported `exited(.unknown)`, its leftover group members are killed, and its
    /// restart policy applies. Call once, before the first `start`. Returns the instances
    /// found alive. Throws when the state file is unreadable (it is left in place for a
    /// person to read); the supervisor is usable anyway, with nothing adopted.
    @discardableResult
    public func recover() async throws(SupervisorError) -> [InstanceID] {
        let entries = try stateFile.load()
        var alive: [InstanceID] = []
        for entry in entries where instances[entry.id] == nil {
            let instance: Instance
            do { instance = try makeInstance(entry.id, spec: entry.spec) } catch {
                emit(entry.id, .startFailed(error))
                continue
            }
            instances[entry.id] = instance
            instance.adopted = true
            instance.pid = entry.pid
            instance.startTime = entry.startTime
            instance.startedAt = now
            instance.generation += 1
            instance.state = .running(pid: entry.pid)
            if ProcFS.isAlive(pid: entry.pid, startTime: entry.startTime) {
                alive.append(entry.id)
                emit(entry.id, .adopted(pid: entry.pid))
                watch(instance)
            } else {
                finishExit(instance, status: .unknown)
            }
        }
        persist(after: nil)
        if settings.onRecovery == .stop {
            await withTaskGroup(of: Void.self) { group in
                for id in alive { group.addTask { _ = try? await self.stop(id) } }
            }
        }
        return alive
    }

    // MARK: - Life cycle

    private var now: MeshTime { MeshTime(nanoseconds: (ContinuousClock.now - clockOrigin).nanoseconds) }

    private func makeInstance(_ id: InstanceID, spec: ProcessSpec) throws(SupervisorError) -> Instance {
        let directory = logDirectory(of: id)
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o750])
        } catch {
            throw .logDirectoryUnwritable(path: directory, reason: (error as NSError).localizedDescription)
        }
        let report: @Sendable (OutputStream, String?) -> Void = { [weak self] stream, problem in
            guard let self else { return }
            Task { await self.emit(id, problem.map { .logWriteFailed(stream: stream, reason: $0) } ?? .logWriteRecovered(stream: stream)) }
        }
        let out = try LogPipe(directory: directory, stream: .stdout, settings: settings, io: io, onWriteProblem: report)
        let err: LogPipe
        do { err = try LogPipe(directory: directory, stream: .stderr, settings: settings, io: io, onWriteProblem: report) } catch {
            out.close()
            throw error
        }
        return Instance(id: id, spec: spec, planner: RestartPlanner(settings: settings), stdout: out, stderr: err)
    }

    /// Spawns the instance's process and marks it running.
    private func launch(_ instance: Instance) async throws(SupervisorError) -> Int32 {
        instance.generation += 1
        let generation = instance.generation
        let id = instance.id
        instance.state = .starting
        instance.pendingExit = nil
        instance.pendingStop = nil
        let input = instance.spec.openStdin ? try openStdinFIFO(instance.id) : nil
        let out: Int32, err: Int32
        do { out = try instance.stdout.openWriteEnd() } catch { if let input { close(input) }; throw error }
        do { err = try instance.stderr.openWriteEnd() } catch { close(out); if let input { close(input) }; throw error }
        let pid = try await Spawner.spawn(instance.spec, stdinFD: input, stdoutFD: out, stderrFD: err) { [weak self] status in
            guard let self else { return }
            Task { await self.childExited(id, generation: generation, status: status) }
        }
        instance.pid = pid
        instance.startTime = ProcFS.facts(pid: pid)?.startTime ?? 0
        instance.startedAt = now
        instance.state = .running(pid: pid)
        emit(id, .started(pid: pid))
        persist(after: id)
        if let status = instance.pendingExit {
            finishExit(instance, status: status)
        } else if let grace = instance.pendingStop {
            beginStop(instance, pid: pid, grace: grace)
        }
        return pid
    }

    private func beginStop(_ instance: Instance, pid: Int32, grace: Duration) {
        instance.state = .stopping(pid: pid)
        kill(-pid, SIGTERM)
        let id = instance.id, generation = instance.generation
        instance.timer?.cancel()
        instance.timer = Task { [weak self] in
            try? await Task.sleep(for: grace)
            guard !Task.isCancelled, let self else { return }
            await self.escalate(id, generation: generation)
        }
    }

    /// The grace period is over: SIGKILL the whole group.
    private func escalate(_ id: InstanceID, generation: Int) {
        guard let instance = instances[id], instance.generation == generation,
              case let .stopping(pid) = instance.state else { return }
        kill(-pid, SIGKILL)
    }

    /// An adopted process is not our child: poll /proc for its exit.
    private func watch(_ instance: Instance) {
        let id = instance.id, generation = instance.generation
        let pid = instance.pid, startTime = instance.startTime, interval = settings.adoptedPollInterval
        instance.watcher = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { return }
                if !ProcFS.isAlive(pid: pid, startTime: startTime) {
                    await self?.childExited(id, generation: generation, status: .unknown)
                    return
                }
            }
        }
    }

    private func childExited(_ id: InstanceID, generation: Int, status: ExitStatus) {
        guard !detached, let instance = instances[id], instance.generation == generation else { return }
        if case .starting = instance.state { instance.pendingExit = status; return }
        finishExit(instance, status: status)
    }

    private func finishExit(_ instance: Instance, status: ExitStatus) {
        let id = instance.id
        instance.timer?.cancel()
        instance.watcher?.cancel()
        instance.stdout.drain(limit: settings.logDrainOnExitBytes)
        instance.stderr.drain(limit: settings.logDrainOnExitBytes)
        killLeftovers(instance)
        if case .stopping = instance.state {
            instance.state = .stopped(status)
            emit(id, .stopped(status))
            for waiter in instance.stopWaiters { waiter.resume(returning: status) }
            instance.stopWaiters = []
            persist(after: id)
            return
        }
        emit(id, .exited(status))
        switch instance.planner.decide(after: status, policy: instance.spec.restartPolicy,
                                       ranFor: now - instance.startedAt, now: now) {
        case .stay:
            instance.state = .exited(status)
        case let .fail(reason):
            instance.state = .failed(reason: reason)
            emit(id, .failed(reason: reason))
        case let .restart(attempt, delay):
            instance.state = .backingOff(attempt: attempt, delay: delay)
            emit(id, .restarting(attempt: attempt, delay: delay))
            let generation = instance.generation
            instance.timer = Task { [weak self] in
                try? await Task.sleep(for: delay)
                guard !Task.isCancelled, let self else { return }
                await self.restartAfterBackoff(id, generation: generation)
            }
        }
        persist(after: id)
    }

    private func restartAfterBackoff(_ id: InstanceID, generation: Int) async {
        guard !detached, let instance = instances[id], instance.generation == generation,
              case .backingOff = instance.state else { return }
        do {
            _ = try await launch(instance)
        } catch {
            startFailed(instance, error, reason: "restart failed: \(error)")
            emit(id, .failed(reason: "restart failed: \(error)"))
        }
    }

    /// The spawn failed: nothing runs. A stop that came in meanwhile is answered.
    private func startFailed(_ instance: Instance, _ error: SupervisorError, reason: String) {
        instance.state = .failed(reason: reason)
        emit(instance.id, .startFailed(error))
        for waiter in instance.stopWaiters { waiter.resume(returning: nil) }
        instance.stopWaiters = []
        persist(after: instance.id)
    }

    /// The group leader is gone; whatever it forked and left in its group goes too, so no
    /// orphan outlives its instance. While any member of the group lives, the kernel does not
    /// hand its id out as a new pid, so if a process with the leader's pid exists now, the
    /// group is gone and that process is a stranger: nothing is signalled.
    private func killLeftovers(_ instance: Instance) {
        guard instance.pid > 0 else { return }
        if let now = ProcFS.facts(pid: instance.pid), now.startTime != instance.startTime { return }
        if instance.adopted {
            for pid in ProcFS.groupMembers(instance.pid, startedAtOrAfter: instance.startTime) { kill(pid, SIGKILL) }
        } else {
            kill(-instance.pid, SIGKILL)
        }
    }

    /// Sends an event; `started`/`startFailed` and `stopped` carry (once) who asked for them.
    private func emit(_ id: InstanceID, _ kind: SupervisorEvent.Kind, requestedBy: [String: String] = [:]) {
        guard !detached else { return }
        var by = requestedBy
        if let instance = instances[id] {
            switch kind {
            case .started, .startFailed: by.merge(instance.startRequestedBy) { a, _ in a }; instance.startRequestedBy = [:]
            case .stopped: by.merge(instance.stopRequestedBy) { a, _ in a }; instance.stopRequestedBy = [:]
            default: break
            }
        }
        eventSink.yield(SupervisorEvent(instance: id, kind: kind, requestedBy: by))
    }

    /// Saves the running instances; `id` names the change that triggered it, for the event.
    private func persist(after id: InstanceID?) {
        guard !detached else { return }
        let entries = instances.values.compactMap { i -> StateFile.Entry? in
            switch i.state {
            case .running, .stopping: StateFile.Entry(id: i.id, spec: i.spec, pid: i.pid, startTime: i.startTime)
            default: nil
            }
        }.sorted { $0.id < $1.id }
        do { try stateFile.save(entries) } catch {
            if let id { emit(id, .stateNotSaved(reason: error.description)) }
        }
    }
}

/// One instance's mutable record, owned by the supervisor actor.
final class Instance {
    let id: InstanceID
    var spec: ProcessSpec
    var state: InstanceState = .starting
    var adopted = false
    /// Bumped on every spawn or adoption; late exit reports of an older process are ignored.
    var generation = 0
    var pid: Int32 = 0
    var startTime: UInt64 = 0
    var startedAt = MeshTime.zero
    var planner: RestartPlanner
    let stdout: LogPipe
    let stderr: LogPipe
    var stopWaiters: [CheckedContinuation<ExitStatus?, Never>] = []
    /// The SIGKILL timer while stopping, the restart timer while backing off.
    var timer: Task<Void, Never>?
    /// The /proc poller of an adopted process.
    var watcher: Task<Void, Never>?
    /// An exit or a stop that arrived while the spawn was in flight.
    var pendingExit: ExitStatus?
    var pendingStop: Duration?
    /// Who asked for the start (or stop) in flight, for the event that answers it.
    var startRequestedBy: [String: String] = [:]
    var stopRequestedBy: [String: String] = [:]

    init(id: InstanceID, spec: ProcessSpec, planner: RestartPlanner, stdout: LogPipe, stderr: LogPipe) {
        self.id = id; self.spec = spec; self.planner = planner; self.stdout = stdout; self.stderr = stderr
    }

    var info: InstanceInfo {
        var processStarted: UInt64?
        switch state {
        case .running, .stopping: processStarted = ProcFS.wallMilliseconds(startTicks: startTime)
        default: break
        }
        return InstanceInfo(id: id, spec: spec, state: state, adopted: adopted, restarts: planner.restarts,
                            processStartedAtMilliseconds: processStarted)
    }
}
