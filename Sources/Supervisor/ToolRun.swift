import Subprocess

/// Runs a short helper program to its end for the agent's own steps before a start (e.g.
/// `git` fetching a workload's source), through the same swift-subprocess monitor that
/// reaps the instances: nothing else may wait for children (README, "Spawning").
public enum ToolRun {
    public struct Outcome: Sendable, Equatable {
        /// It ran and exited 0.
        public var succeeded: Bool
        /// What went wrong, for an error a person reads: the last line of its stderr, its
        /// exit status, a timeout, or why it could not start. Empty on success.
        public var detail: String
    }

    /// Bytes of stderr kept (a helper that writes more fails with a clear detail).
    public static let maxErrorBytes = 64 * 1024

    /// Runs `command` (found in PATH) with `arguments`, the agent's environment plus
    /// `environment`, stdin and stdout closed, and stops it (swift-subprocess's teardown:
    /// SIGTERM, then SIGKILL) after `timeout`.
    public static func run(_ command: String, _ arguments: [String], environment: [String: String] = [:],
                           timeout: Duration) async -> Outcome {
        let env = Environment.inherit.updating(Dictionary(uniqueKeysWithValues: environment.compactMap { key, value in
            Environment.Key(rawValue: key).map { ($0, Optional(value)) }
        }))
        return await withTaskGroup(of: Outcome?.self) { group in
            group.addTask {
                do {
                    let r = try await Subprocess.run(.name(command), arguments: .init(arguments), environment: env,
                                                     output: .discarded, error: .string(limit: maxErrorBytes))
                    switch r.terminationStatus {
                    case .exited(0): return Outcome(succeeded: true, detail: "")
                    case let .exited(code): return Outcome(succeeded: false, detail: lastLine(r.standardError) ?? "exit status \(code)")
                    case let .signaled(signal): return Outcome(succeeded: false, detail: "killed by signal \(signal)")
                    }
                } catch {
                    return Task.isCancelled ? nil : Outcome(succeeded: false, detail: "\(command) could not run: \(error)")
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return Task.isCancelled ? nil : Outcome(succeeded: false, detail: "\(command) did not finish within \(timeout)")
            }
            var first: Outcome?
            for await outcome in group {
                if let outcome { first = outcome; group.cancelAll(); break }
            }
            return first ?? Outcome(succeeded: false, detail: "\(command) was cancelled")
        }
    }

    static func lastLine(_ text: String?) -> String? {
        text?.split(whereSeparator: \.isNewline).last.map { String($0.prefix(300)) }
    }
}
