import TestSupport
import Foundation
import MeshAPI
import MeshClient
import Testing

/// Several real `meshd` processes on 127.0.0.1 sharing one cluster key, each with its own
/// temp data directory and OS-chosen ports (the first agent's mesh port is the others'
/// join address). `shutdown()` kills what is still running and removes every directory.
final class MeshCluster: @unchecked Sendable {
    let root: String
    let keyFile: String
    private(set) var agents: [AgentProcess] = []
    private(set) var names: [String] = []

    /// How much of each agent's log a failed wait prints.
    static let logLinesOnFailure = 25

    /// The timing profile every agent runs.
    let profile: String
    /// More flags every agent gets (e.g. `--stats-interval 1`).
    let extraArguments: [String]

    /// Starts `count` agents with the given timing profile (`local` unless told) and waits
    /// until each serves its API.
    init(count: Int, prefix: String = "n", profile: String = "local", arguments: [String] = []) async throws {
        self.profile = profile
        extraArguments = arguments
        root = NSTemporaryDirectory() + "meshd-cluster-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        keyFile = root + "/cluster.key"
        try Self.writeKeyFile(keyFile, Self.newKey())
        for i in 0 ..< count {
            try await startAgent(name: "\(prefix)\(i)")
        }
    }

    /// Starts one more agent joining the first (`arguments`: flags for this agent alone).
    @discardableResult
    func startAgent(name: String, dataDir: String? = nil, joining seed: Int? = nil, alone: Bool = false,
                    arguments: [String] = []) async throws -> AgentProcess {
        var args = ["--name", name, "--bind", "127.0.0.1:0", "--api", "127.0.0.1:0", "--profile", profile,
                    "--cluster-key-file", keyFile] + extraArguments + arguments
        let seedAgent = seed.map { agents[$0] } ?? agents.first
        if !alone, let first = seedAgent, let port = first.meshPort { args += ["--join", "127.0.0.1:\(port)"] }
        let agent = try AgentProcess(arguments: args, dataDir: dataDir ?? "\(root)/\(name)",
                                     environment: [Self.markerVariable: root])
        try await agent.waitUntilServing()
        if let i = names.firstIndex(of: name) { agents[i] = agent } else { agents.append(agent); names.append(name) }
        return agent
    }

    /// Polls `condition` every 100 ms until it holds; after `timeout` records `what` and throws.
    func eventually(_ what: String, timeout: Duration = .seconds(30), _ condition: () async -> Bool) async throws {
        do { try await poll(what, timeout: timeout, interval: .milliseconds(100)) { await condition() } } catch {
            Issue.record("\(error)")
            throw CancellationError()
        }
    }

    func client(_ i: Int) -> APIClient { APIClient(address: agents[i].apiAddress ?? "127.0.0.1:1", token: nil) }

    func members(_ i: Int) async throws -> [MemberInfo] {
        try APIClient.decode([MemberInfo].self, try await client(i).get("/v1/members"))
    }

    func metrics(_ i: Int) async throws -> String {
        String(decoding: try await client(i).get("/metrics"), as: UTF8.self)
    }

    /// Each member's status as agent `i` sees it (name -> status).
    func view(_ i: Int) async -> [String: String] {
        guard let ms = try? await members(i) else { return [:] }
        return Dictionary(ms.map { ($0.name, $0.status) }, uniquingKeysWith: { a, _ in a })
    }

    /// Polls until every agent in `observers` sees `expected` (name -> status) among its
    /// members, or records what each last saw.
    func waitForViews(_ observers: [Int], _ expected: [String: String], timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        var last: [Int: [String: String]] = [:]
        while ContinuousClock.now < deadline {
            var ok = true
            for i in observers {
                let v = await view(i)
                last[i] = v
                if expected.contains(where: { v[$0.key] != $0.value }) { ok = false }
            }
            if ok { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        // The last sleep may have overslept the deadline on a busy machine: look once more.
        for i in observers { last[i] = await view(i) }
        if observers.allSatisfy({ i in !expected.contains(where: { last[i]?[$0.key] != $0.value }) }) { return }
        let seen: [String] = observers.map { i in
            let v = (last[i] ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
            return "\(names[i]): \(v)"
        }
        let wanted = expected.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        var counters: [String] = []
        for i in agents.indices where agents[i].process.isRunning {
            if let m = try? await metrics(i) {
                let dropped = Self.sample(m, "meshd_datagrams_dropped_total")
                let replayed = Self.sample(m, #"meshd_frames_rejected_total{reason="replayed"}"#)
                counters.append("\(names[i]): dropped \(dropped), replayed \(replayed)")
            }
        }
        let logs = agents.indices.map { i in
            "--- \(names[i]) stderr (last lines):\n" + agents[i].stderr.split(separator: "\n").suffix(Self.logLinesOnFailure).joined(separator: "\n")
        }.joined(separator: "\n")
        Issue.record("after \(timeout) the agents did not see \(wanted); last seen: \(seen.joined(separator: "; "))\ncounters: \(counters.joined(separator: "; "))\n\(logs)")
        throw CancellationError()
    }

    /// Waits until every running agent (of `only`, when given) has probed `rounds` more times than now, so a check
    /// that nothing happened (no suspicion, no flap) covers that many of the agents' own
    /// protocol periods rather than a span of wall-clock time; fails after `timeout`.
    func waitProbeRounds(_ rounds: Int, of only: [Int]? = nil, timeout: Duration = .seconds(60)) async throws {
        let running = (only ?? Array(agents.indices)).filter { agents[$0].process.isRunning }
        var start: [Int: Double] = [:]
        for i in running { start[i] = Self.sample(try await metrics(i), "meshd_probes_total") }
        let deadline = ContinuousClock.now + timeout
        var behind = running
        while !behind.isEmpty {
            var still: [Int] = []
            for i in behind where Self.sample(try await metrics(i), "meshd_probes_total") < start[i]! + Double(rounds) {
                still.append(i)
            }
            behind = still
            if behind.isEmpty { return }
            guard ContinuousClock.now < deadline else {
                Issue.record("after \(timeout), \(behind.map { names[$0] }) had not probed \(rounds) more times")
                throw CancellationError()
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Every agent sees every agent alive.
    func waitAllAlive(timeout: Duration = .seconds(30)) async throws {
        try await waitForViews(Array(agents.indices), Dictionary(uniqueKeysWithValues: names.map { ($0, "alive") }),
                               timeout: timeout)
    }

    /// Every agent's environment holds this, and so does every process its supervisor
    /// starts: `shutdown()` finds what a killed agent left running by it.
    static let markerVariable = "MESH_E2E_CLUSTER"

    func shutdown() {
        for agent in agents where agent.process.isRunning {
            kill(agent.process.processIdentifier, SIGKILL)
            agent.process.waitUntilExit()
        }
        killLeftovers()
        try? FileManager.default.removeItem(atPath: root)
    }

    /// Kills the processes this cluster's agents started that outlived them.
    func killLeftovers() {
        let marker = Data("\(Self.markerVariable)=\(root)\0".utf8)
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), pid != getpid(),
                  let environ = FileManager.default.contents(atPath: "/proc/\(entry)/environ"), environ.range(of: marker) != nil else { continue }
            kill(pid, SIGKILL)
        }
    }

    static func newKey() -> String {
        var bytes = [UInt8](repeating: 0, count: 32)
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0 ... 255) }
        return Data(bytes).base64EncodedString()
    }

    static func writeKeyFile(_ path: String, _ key: String) throws {
        FileManager.default.createFile(atPath: path, contents: Data((key + "\n").utf8), attributes: [.posixPermissions: 0o600])
    }

    /// The value of one sample in Prometheus text (`name{labels} value`), 0 when absent.
    static func sample(_ text: String, _ series: String) -> Double {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1)) ?? 0
        }
        return 0
    }
}

/// Runs meshctl and returns its exit status, stdout and stderr. The wait happens on a
/// thread of its own, so a slow command never holds one of the few threads that every
/// concurrently running test shares.
func meshctl(_ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
    try await withCheckedThrowingContinuation { continuation in
        Thread {
            do { continuation.resume(returning: try meshctlBlocking(arguments)) } catch { continuation.resume(throwing: error) }
        }.start()
    }
}

private func meshctlBlocking(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: AgentProcess.binary("meshctl"))
    p.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    env.removeValue(forKey: "MESH_ADDR"); env.removeValue(forKey: "MESH_TOKEN"); env.removeValue(forKey: "MESH_USER")
    p.environment = env
    let out = Pipe(), err = Pipe()
    p.standardOutput = out; p.standardError = err
    try p.run()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}
