import Foundation
import MeshCore
import Supervisor
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Runs the commands `meshctl exec` sends to this node, each in its own process group, and
/// holds their output until the agent that relays it asks (`NodeQuery.execPoll`).
///
/// Every limit is in `AgentLimits` (exec section): commands at once, output kept and held
/// per stream, timeout; a command past its timeout, cancelled, or abandoned by its reader
/// gets SIGKILL on its whole process group. Each ended command is recorded as an
/// `exec.finished` event.
actor ExecService {
    private struct Session {
        var command: [String]
        var requester: [String: String]
        let began: ContinuousClock.Instant
        var lastAsked: ContinuousClock.Instant
        var pid: Int32?
        var stdout = ExecOutputBuffer()
        var stderr = ExecOutputBuffer()
        /// Set by the agent (timeout, cancel) before the process ends, or by its end.
        var status: ExecStatus = .running
        var exit: ExitStatus?
        var ended: ContinuousClock.Instant?
        /// The pumps waiting for the reader to take output.
        var roomWaiters: [CheckedContinuation<Void, Never>] = []
        var timer: Task<Void, Never>?

        var isRunning: Bool { ended == nil }
        var seconds: Double? { ended.map { ($0 - began).seconds } }
    }

    nonisolated let nodeName: String
    nonisolated let counters = ExecCounters()
    private let supervisor: SupervisorService
    private let record: @Sendable (String, [String: String]) async -> Void
    private var sessions: [String: Session] = [:]
    private var sweeper: Task<Void, Never>?
    private var stopping = false

    init(nodeName: String, supervisor: SupervisorService, record: @escaping @Sendable (String, [String: String]) async -> Void) {
        self.nodeName = nodeName
        self.supervisor = supervisor
        self.record = record
    }

    /// Commands running now.
    var runningCount: Int { sessions.values.filter(\.isRunning).count }

    /// Answers the exec questions of `NodeQuery` (from another member or this agent's API).
    func answer(_ query: NodeQuery) async -> NodeReply {
        switch query {
        case let .execStart(request): return await start(request)
        case let .execPoll(request): return poll(request)
        case let .execCancel(session): return cancel(session)
        default: return .refused("not an exec question")
        }
    }

    // MARK: Start

    /// Starts the command; answers once it runs (`execStarted`) or why it cannot.
    func start(_ request: ExecStart) async -> NodeReply {
        do throws(ExecRefusal) {
            let timeout = try ExecLimits.check(command: request.command, timeoutSeconds: request.timeoutSeconds)
            var spec = ProcessSpec(command: request.command[0], arguments: Array(request.command.dropFirst()))
            if let instance = request.instance {
                guard let running = await supervisor.spec(of: instance) else {
                    throw .unknownInstance("no instance \(instance) on \(nodeName)")
                }
                spec.environment = running.environment
                spec.workingDirectory = running.workingDirectory
                spec.user = running.user
            }
            // No suspension from this check to the session's insertion, so starts that
            // interleave cannot pass the limit together.
            guard !stopping else { throw .badRequest("the agent on \(nodeName) is stopping") }
            guard runningCount < AgentLimits.maxConcurrentExecs else { throw .tooMany(limit: AgentLimits.maxConcurrentExecs) }
            let id = Self.newSessionID()
            let now = ContinuousClock.now
            sessions[id] = Session(command: request.command, requester: request.requester, began: now, lastAsked: now)
            let outcome: Result<Void, SupervisorError> = await withCheckedContinuation { begun in
                Task { await self.run(id, spec, begun: begun) }
            }
            if case let .failure(error) = outcome {
                sessions[id] = nil
                switch error {
                case .commandNotFound, .notExecutable, .workingDirectoryMissing, .unknownUser:
                    throw .commandNotFound("\(error.description) (on \(nodeName))")
                default: throw .badRequest("\(error.description) (on \(nodeName))")
                }
            }
            counters.started()
            if sessions[id]?.isRunning == true {
                sessions[id]?.timer = Task { [weak self] in
                    try? await Task.sleep(for: .seconds(timeout))
                    guard !Task.isCancelled else { return }
                    await self?.kill(id, as: .timeout)
                }
            }
            startSweeper()
            return .execStarted(session: id)
        } catch {
            counters.refused(error)
            return .execRefused(error)
        }
    }

    /// Runs the process; resumes `begun` once it runs or failed to start.
    private func run(_ id: String, _ spec: ProcessSpec, begun: CheckedContinuation<Result<Void, SupervisorError>, Never>) async {
        let once = Once()
        do throws(SupervisorError) {
            let status = try await CommandRun.run(spec, started: { pid in
                await self.began(id, pid: pid)
                if once.claim() { begun.resume(returning: .success(())) }
            }, output: { stream, bytes in
                await self.take(id, stream, bytes)
            })
            await finished(id, status)
        } catch {
            if once.claim() { begun.resume(returning: .failure(error)) } else { await finished(id, .unknown) }
        }
    }

    private func began(_ id: String, pid: Int32) {
        sessions[id]?.pid = pid
        // Cancelled while starting: it goes at once.
        if let s = sessions[id], s.status != .running { _ = Glibc.kill(-pid, SIGKILL) }
    }

    /// Keeps a chunk of output; waits while the reader has a full buffer to fetch (the pipe
    /// is not read meanwhile). After a kill nothing waits: output is dropped until the end.
    private func take(_ id: String, _ stream: LogStream, _ bytes: [UInt8]) async {
        while let s = sessions[id], s.status == .running, (stream == .stdout ? s.stdout : s.stderr).isFull {
            await withCheckedContinuation { sessions[id]?.roomWaiters.append($0) }
        }
        guard sessions[id]?.status == .running else { return }
        if stream == .stdout { sessions[id]?.stdout.append(bytes) } else { sessions[id]?.stderr.append(bytes) }
    }

    private func finished(_ id: String, _ status: ExitStatus) async {
        guard var s = sessions[id], s.isRunning else { return }
        s.timer?.cancel()
        s.exit = status
        s.ended = .now
        if s.status == .running {
            if case .signaled = status { s.status = .killed } else { s.status = .exited }
        }
        // Whatever it left in its group goes with it (as the supervisor does for instances).
        if let pid = s.pid { _ = Glibc.kill(-pid, SIGKILL) }
        wake(&s)
        sessions[id] = s
        var attributes = s.requester.merging(["session": id, "status": s.status.rawValue,
                                              "command": ExecLimits.eventText(s.command),
                                              "seconds": String(format: "%.3f", s.seconds ?? 0)]) { $1 }
        switch status {
        case let .exited(code): attributes["exit_code"] = "\(code)"
        case let .signaled(signal): attributes["signal"] = "\(signal)"
        case .unknown: attributes["exit"] = "unknown"
        }
        if s.stdout.truncated || s.stderr.truncated { attributes["truncated"] = "true" }
        if s.status == .timeout { counters.timedOut() }
        await record("exec.finished", attributes)
    }

    // MARK: Reading and cancelling

    /// Output after the offsets asked (dropping what precedes them) and the status; `done`
    /// once the command ended and nothing is left.
    func poll(_ request: ExecPoll) -> NodeReply {
        guard var s = sessions[request.session] else {
            let refusal = ExecRefusal.unknownSession("no command \(request.session) on \(nodeName) (it ended more than \(AgentLimits.execResultRetention) ago, or never ran here)")
            counters.refused(refusal)
            return .execRefused(refusal)
        }
        s.lastAsked = .now
        s.stdout.acknowledge(upTo: request.stdout)
        s.stderr.acknowledge(upTo: request.stderr)
        wake(&s)
        sessions[request.session] = s
        return .execOutput(Self.chunk(s))
    }

    /// Kills the command's group now (status `cancelled`); answers its output as `poll` does.
    func cancel(_ session: String) -> NodeReply {
        guard let s = sessions[session] else {
            let refusal = ExecRefusal.unknownSession("no command \(session) on \(nodeName)")
            counters.refused(refusal)
            return .execRefused(refusal)
        }
        kill(session, as: .cancelled)
        return .execOutput(Self.chunk(sessions[session] ?? s))
    }

    /// Agent shutdown: every running command's group is killed.
    func stopAll() {
        stopping = true
        for id in sessions.keys { kill(id, as: .cancelled) }
        sweeper?.cancel()
    }

    private func kill(_ id: String, as status: ExecStatus) {
        guard var s = sessions[id], s.isRunning, s.status == .running else { return }
        s.status = status
        if let pid = s.pid { _ = Glibc.kill(-pid, SIGKILL) }
        s.timer?.cancel()
        wake(&s)
        sessions[id] = s
    }

    private func wake(_ s: inout Session) {
        for waiter in s.roomWaiters { waiter.resume() }
        s.roomWaiters = []
    }

    private static func chunk(_ s: Session) -> ExecChunk {
        let final = !s.isRunning
        let out = s.stdout.read(from: s.stdout.start, maxBytes: AgentLimits.maxExecChunkBytes, final: final)
        let err = s.stderr.read(from: s.stderr.start, maxBytes: AgentLimits.maxExecChunkBytes, final: final)
        var exitCode: Int32?, signal: Int32?
        switch s.exit {
        case let .exited(code)?: exitCode = code
        case let .signaled(sig)?: signal = sig
        default: break
        }
        return ExecChunk(stdout: Data(out.bytes), stderr: Data(err.bytes), stdoutNext: out.next, stderrNext: err.next,
                         status: final ? s.status : .running, exitCode: exitCode, signal: signal,
                         truncated: s.stdout.truncated || s.stderr.truncated, seconds: s.seconds,
                         done: final && out.next == s.stdout.end && err.next == s.stderr.end)
    }

    // MARK: Sweeping

    /// Kills commands nobody reads any more; forgets ended ones after their retention.
    private func startSweeper() {
        guard sweeper == nil else { return }
        sweeper = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: AgentLimits.execSweepInterval)
                guard let self, await self.sweep() else { break }
            }
        }
    }

    /// One pass; false when nothing is left to watch (the sweeper ends, the next start
    /// makes a new one).
    private func sweep() -> Bool {
        let now = ContinuousClock.now
        for (id, s) in sessions {
            if s.isRunning, now - s.lastAsked > AgentLimits.execAbandonAfter { kill(id, as: .cancelled) }
            if let ended = s.ended, now - ended > AgentLimits.execResultRetention { sessions[id] = nil }
        }
        if sessions.isEmpty { sweeper = nil; return false }
        return true
    }

    private static func newSessionID() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0 ..< 2).map { _ in String(generator.next() as UInt64, radix: 16).leftPadded(to: 16) }.joined()
    }
}

/// Resolves a start exactly once, from whichever side comes first.
private final class Once: Sendable {
    private let done = Mutex(false)
    /// True for the first caller only.
    func claim() -> Bool { done.withLock { was in defer { was = true }; return !was } }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// exec's counters, for `/metrics` (`meshd_exec_*`).
final class ExecCounters: Sendable {
    private struct Counts { var started: UInt64 = 0; var timedOut: UInt64 = 0; var refused: [String: UInt64] = [:] }
    private let counts = Mutex(Counts())

    func started() { counts.withLock { $0.started &+= 1 } }
    func timedOut() { counts.withLock { $0.timedOut &+= 1 } }
    func refused(_ r: ExecRefusal) { counts.withLock { $0.refused[r.reason, default: 0] &+= 1 } }

    func metricsText(running: Int) -> String {
        let c = counts.withLock { $0 }
        var p = PrometheusText()
        p.family("meshd_exec_started_total", .counter, help: "Commands exec started on this node.", [(labels: [], value: Double(c.started))])
        p.family("meshd_exec_running", .gauge, help: "Commands exec runs on this node now.", [(labels: [], value: Double(running))])
        p.family("meshd_exec_timeouts_total", .counter, help: "Commands killed at their timeout.", [(labels: [], value: Double(c.timedOut))])
        p.family("meshd_exec_refused_total", .counter, help: "exec, attach and stdin requests refused, by reason.",
                 ExecRefusal.allReasons.map { (labels: [("reason", $0)], value: Double(c.refused[$0] ?? 0)) })
        return p.text
    }
}
