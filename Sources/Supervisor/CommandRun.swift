import Subprocess
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs one command to its end with its output handed over as it comes (`meshctl exec`),
/// through the same swift-subprocess monitor that reaps the instances (README, "Spawning").
///
/// The process runs in its own process group (`processGroupID = 0`, so its pid is the
/// group's id): whoever holds the pid ends it and everything it forked with
/// `kill(-pid, SIGKILL)`. Timeouts are the caller's: this type never waits on a clock.
public enum CommandRun {
    /// Runs `spec` (command resolved as the supervisor resolves it; environment, working
    /// directory and user applied the same way), stdin /dev/null. Calls `started` with the
    /// pid once it runs, `output` with every chunk of stdout and stderr in the order read
    /// (it may suspend: the pipe is not read meanwhile, which slows the process rather than
    /// losing output), and returns how it ended once it has exited and both pipes reached
    /// end-of-file. Throws when it cannot start.
    public static func run(_ spec: ProcessSpec,
                           started: @escaping @Sendable (Int32) async -> Void,
                           output: @escaping @Sendable (OutputStream, [UInt8]) async -> Void) async throws(SupervisorError) -> ExitStatus {
        let executable = try Spawner.resolveExecutable(spec)
        let options = try Spawner.platformOptions(spec)
        let environment = Spawner.environment(spec)
        do {
            let outcome = try await Subprocess.run(
                .path(.init(executable)), arguments: .init(spec.arguments), environment: environment,
                workingDirectory: spec.workingDirectory.map { .init($0) }, platformOptions: options,
                input: .none, output: .sequence, error: .sequence
            ) { execution in
                await started(execution.processIdentifier.value)
                let out = execution.standardOutput, err = execution.standardError
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { await pump(out, .stdout, output) }
                    group.addTask { await pump(err, .stderr, output) }
                }
            }
            switch outcome.terminationStatus {
            case let .exited(code): return .exited(code: code)
            case let .signaled(signal): return .signaled(signal: signal)
            }
        } catch let error as SupervisorError {
            throw error
        } catch {
            if let e = error as? SubprocessError {
                if e.code == .init(.executableNotFound) { throw .commandNotFound(spec.command) }
                if e.code == .init(.failedToChangeWorkingDirectory) { throw .workingDirectoryMissing(spec.workingDirectory ?? "") }
            }
            throw .spawnFailed(command: executable, reason: "\(error)")
        }
    }

    /// Reads one pipe to its end (or to a read error, which ends it as well).
    private static func pump(_ sequence: SubprocessOutputSequence, _ stream: OutputStream,
                             _ output: @Sendable (OutputStream, [UInt8]) async -> Void) async {
        do {
            for try await buffer in sequence where !buffer.isEmpty {
                let bytes = buffer.withUnsafeBytes { Array($0) }
                await output(stream, bytes)
            }
        } catch {
            return
        }
    }
}
