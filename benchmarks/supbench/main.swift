// Supervisor benchmarks: start-to-running, stop of a SIGTERM-ignoring process, and the
// agent's memory per supervised idle instance. Release build; see README-supervisor.md.
import Foundation
import Supervisor
#if canImport(Glibc)
import Glibc
#endif

func rssBytes() -> Int {
    let text = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return (Int(line.split(separator: " ")[1]) ?? 0) * 1024
    }
    return 0
}

func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }

func percentile(_ xs: [Double], _ p: Double) -> Double {
    let s = xs.sorted(); return s[min(s.count - 1, Int(Double(s.count) * p))]
}

/// Polls with a deadline (no fixed sleeps to wait for conditions).
func waitUntil(_ what: String, timeout: Duration = .seconds(30), _ probe: () async -> Bool) async {
    let deadline = ContinuousClock.now + timeout
    while !(await probe()) {
        if ContinuousClock.now > deadline { fatalError("timed out waiting for \(what)") }
        try? await Task.sleep(for: .milliseconds(5))
    }
}

func run() async throws {
    // Each instance holds 4 descriptors in the agent (2 FIFOs, 2 log files) plus a pidfd.
    var fileLimit = rlimit()
    getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &fileLimit)
    fileLimit.rlim_cur = fileLimit.rlim_max
    setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &fileLimit)

    let args = CommandLine.arguments
    let startRuns = args.count > 1 ? Int(args[1]) ?? 200 : 200
    let idleInstances = args.count > 2 ? Int(args[2]) ?? 100 : 100

    let dir = NSTemporaryDirectory() + "meshd-supbench-\(getpid())"
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let settings = SupervisorSettings(stateDirectory: dir + "/state", logDirectory: dir + "/logs")
    let sup = try Supervisor(settings: settings)
    let drain = Task { for await _ in sup.events {} }

    // 1. Start-to-running of a trivial process: from start() to its return with a pid.
    var startTimes: [Double] = []
    for i in 0 ..< startRuns {
        let id = try InstanceID("true.\(i)")
        let t0 = ContinuousClock.now
        try await sup.start(id, ProcessSpec(command: "/bin/true", restartPolicy: .never))
        startTimes.append(ms(ContinuousClock.now - t0))
        await waitUntil("exit of \(id)") { if case .exited = await sup.info(id)?.state { true } else { false } }
        try await sup.remove(id)
    }
    print(String(format: "start-to-running /bin/true, %d runs: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms",
                 startRuns, percentile(startTimes, 0.5), percentile(startTimes, 0.9), percentile(startTimes, 0.99), startTimes.max()!))

    // 2. Stop of a process that ignores SIGTERM: grace + overhead.
    let grace = Duration.seconds(1)
    var overheads: [Double] = []
    for i in 0 ..< 5 {
        let id = try InstanceID("stubborn.\(i)")
        try await sup.start(id, .shell("trap '' TERM; echo ready; while :; do sleep 0.05; done", stopGracePeriod: grace))
        await waitUntil("ready") { sup.tail(id, stream: .stdout, lines: 1) == ["ready"] }
        let t0 = ContinuousClock.now
        let status = try await sup.stop(id)
        overheads.append(ms(ContinuousClock.now - t0) - ms(grace))
        precondition(status == .signaled(signal: SIGKILL))
        try await sup.remove(id)
    }
    print(String(format: "stop of a SIGTERM-ignoring process, grace 1000 ms, 5 runs: grace + p50 %.2f ms, max %.2f ms",
                 percentile(overheads, 0.5), overheads.max()!))

    // 3. Memory per idle instance: RSS before and after N `sleep 1000`.
    let before = rssBytes()
    var pids: [Int32] = []
    for i in 0 ..< idleInstances {
        pids.append(try await sup.start(try InstanceID("idle.\(i)"), ProcessSpec(command: "/bin/sleep", arguments: ["1000"], restartPolicy: .never)))
    }
    await waitUntil("all running") { await sup.list().filter { if case .running = $0.state { true } else { false } }.count == idleInstances }
    let after = rssBytes()
    print(String(format: "%d idle instances: agent RSS %.1f MB -> %.1f MB, %.0f KB per instance",
                 idleInstances, Double(before) / 1e6, Double(after) / 1e6, Double(after - before) / Double(idleInstances) / 1024))
    let stopAllBegan = ContinuousClock.now
    await sup.stopAll()
    print(String(format: "stopAll of %d instances (SIGTERM honoured): %.0f ms", idleInstances, ms(ContinuousClock.now - stopAllBegan)))
    await sup.detach()
    drain.cancel()
}

/// `supbench hold DIR`: an agent that starts one chatty instance, prints its pid, and waits
/// to be killed. `supbench adopt DIR`: the next agent; adopts it, checks its output still
/// flows, stops it and checks its group is gone. Used by supervisor-agent-kill.sh.
func agentKillCheck(mode: String, dir: String) async throws {
    let settings = SupervisorSettings(stateDirectory: dir + "/state", logDirectory: dir + "/logs")
    let sup = try Supervisor(settings: settings)
    let id: InstanceID = "chatty.0"
    if mode == "hold" {
        let pid = try await sup.start(id, .shell("i=0; while :; do i=$((i+1)); echo line $i; done", restartPolicy: .never))
        print(pid)
        fflush(nil)
        while true { try await Task.sleep(for: .seconds(3600)) }
    }
    let adopted = try await sup.recover()
    guard adopted == [id], case let .running(pid)? = await sup.info(id)?.state else {
        print("FAIL: nothing adopted (\(adopted))"); exit(1)
    }
    func lastLine() -> Int { Int(sup.tail(id, stream: .stdout, lines: 1).first?.split(separator: " ").last ?? "") ?? 0 }
    let first = lastLine()
    await waitUntil("output to flow again") { lastLine() > first + 100_000 }
    let status = try await sup.stop(id, gracePeriod: .seconds(5))
    // Gone or a zombie: after the first agent died the instance's parent is init (or a
    // subreaper), whose job it is to reap it.
    let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
    let gone = stat.isEmpty || stat.split(separator: ")").last?.split(separator: " ").first == "Z"
    print("adopted pid \(pid); output resumed from line \(first) to \(lastLine()); stopped: \(status.map { "\($0)" } ?? "-"); group gone: \(gone)")
    exit(gone ? 0 : 1)
}

if CommandLine.arguments.count == 3, ["hold", "adopt"].contains(CommandLine.arguments[1]) {
    try await agentKillCheck(mode: CommandLine.arguments[1], dir: CommandLine.arguments[2])
} else {
    try await run()
}
