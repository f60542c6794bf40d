import Foundation
import Testing

/// A real `meshd` process on 127.0.0.1 with its own temp data directory, for end-to-end
/// tests. Always stopped and cleaned up by `stop()`/`kill()` (or at deinit).
final class AgentProcess: @unchecked Sendable {
    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized
    }

    /// The built binary; `scripts/test.sh` builds it before the tests run.
    static func binary(_ name: String) -> String {
        let debug = packageRoot.appendingPathComponent(".build/debug/\(name)").path
        return ProcessInfo.processInfo.environment["MESHD_TEST_BIN_DIR"].map { "\($0)/\(name)" } ?? debug
    }

    let process = Process()
    let dataDir: String
    private let stdoutPipe = Pipe()
    private let stderrPipe = Pipe()
    private let lock = NSLock()
    private var stdoutText = ""
    private var stderrText = ""

    init(arguments: [String], dataDir: String? = nil, environment: [String: String] = [:]) throws {
        self.dataDir = dataDir ?? NSTemporaryDirectory() + "meshd-e2e-\(UUID().uuidString)"
        process.executableURL = URL(fileURLWithPath: Self.binary("meshd"))
        process.arguments = ["--data-dir", self.dataDir] + arguments
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("MESHD_") }
        env.merge(environment) { $1 }
        process.environment = env
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        stdoutPipe.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            guard let self, !d.isEmpty else { return }
            self.lock.withLock { self.stdoutText += String(decoding: d, as: UTF8.self) }
        }
        stderrPipe.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            guard let self, !d.isEmpty else { return }
            self.lock.withLock { self.stderrText += String(decoding: d, as: UTF8.self) }
        }
        try process.run()
    }

    var stdout: String { lock.withLock { stdoutText } }
    var stderr: String { lock.withLock { stderrText } }

    /// The mesh port from the banner (`meshd: mesh listening on udp+tcp HOST:PORT`).
    var meshPort: Int? { Self.port(after: "meshd: mesh listening on udp+tcp ", in: stdout) }
    /// The API address from `meshd: api listening on http://HOST:PORT` (or `https://`).
    var apiAddress: String? {
        for scheme in ["http://", "https://"] {
            let prefix = "meshd: api listening on " + scheme
            if let line = stdout.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) { return String(line.dropFirst(prefix.count)) }
        }
        return nil
    }

    static func port(after prefix: String, in text: String) -> Int? {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }),
              let colon = line.lastIndex(of: ":") else { return nil }
        return Int(line[line.index(after: colon)...])
    }

    /// Waits until the banner and the API line are printed.
    func waitUntilServing(timeout: Duration = .seconds(20)) async throws {
        try await waitForOutput(timeout: timeout) { $0.contains("meshd: api listening on http") }
    }

    /// Polls until `condition` holds on stdout, or fails with what was last seen.
    func waitForOutput(timeout: Duration = .seconds(20), _ condition: (String) -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition(stdout) { return }
            if !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        // The last sleep may have overslept the deadline on a busy machine: look once more.
        if condition(stdout) { return }
        Issue.record("condition not met; stdout so far:\n\(stdout)\nstderr:\n\(stderr)")
        throw CancellationError()
    }

    /// Sends `signal` and waits (bounded) for the process to exit; returns its status.
    @discardableResult
    func stop(signal: Int32 = SIGTERM, timeout: Duration = .seconds(15)) async throws -> Int32 {
        if process.isRunning { kill(process.processIdentifier, signal) }
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            Issue.record("meshd did not exit within \(timeout) of signal \(signal)")
        }
        return process.terminationStatus
    }

    func removeData() { try? FileManager.default.removeItem(atPath: dataDir) }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        stdoutPipe.fileHandleForReading.readabilityHandler = nil
        stderrPipe.fileHandleForReading.readabilityHandler = nil
    }
}
