import Subprocess
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Starts one process with swift-subprocess, in its own process group, with its output on
/// the given descriptors, and reports its exit.
///
/// swift-subprocess reaps every child from one monitor thread (epoll over pidfds, or a
/// SIGCHLD handler on kernels without pidfd): there is no thread per child. Each child is
/// awaited by one suspended task, which costs a few hundred bytes, not a stack.
enum Spawner {
    /// Returns the pid once the process runs; `onExit` is called once when it ends.
    /// `stdinFD` (closed here like the others) is the process's stdin; nil gives it none.
    static func spawn(_ spec: ProcessSpec, stdinFD: Int32? = nil, stdoutFD: Int32, stderrFD: Int32,
                      onExit: @escaping @Sendable (ExitStatus) -> Void) async throws(SupervisorError) -> Int32 {
        let executable = try resolveExecutable(spec)
        let options = try platformOptions(spec)
        let environment = environment(spec)
        // The process's stdin: the FIFO given, else /dev/null (as swift-subprocess's `.none`).
        let inputFD = stdinFD ?? open("/dev/null", O_RDONLY | O_CLOEXEC)
        let once = Once()
        let result: Result<Int32, SupervisorError> = await withCheckedContinuation { continuation in
            once.set(continuation)
            Task { [options] in
                do {
                    let outcome = try await run(
                        .path(.init(executable)), arguments: .init(spec.arguments),
                        environment: environment,
                        workingDirectory: spec.workingDirectory.map { .init($0) },
                        platformOptions: options,
                        input: .fileDescriptor(.init(rawValue: inputFD), closeAfterSpawningProcess: false),
                        output: .fileDescriptor(.init(rawValue: stdoutFD), closeAfterSpawningProcess: false),
                        error: .fileDescriptor(.init(rawValue: stderrFD), closeAfterSpawningProcess: false)
                    ) { execution in
                        once.resume(.success(execution.processIdentifier.value))
                    }
                    switch outcome.terminationStatus {
                    case let .exited(code): onExit(.exited(code: code))
                    case let .signaled(signal): onExit(.signaled(signal: signal))
                    }
                } catch {
                    let mapped = map(error, spec: spec, executable: executable)
                    if !once.resume(.failure(mapped)) { onExit(.unknown) }
                }
            }
        }
        // Ours to close in both cases: the child has its own copies on 1 and 2.
        close(stdoutFD)
        close(stderrFD)
        if inputFD >= 0 { close(inputFD) }
        return try result.get()
    }

    /// An absolute path for the command: as given when it holds a '/', relative ones against
    /// the working directory; otherwise searched in PATH (the spec's, else the agent's).
    static func resolveExecutable(_ spec: ProcessSpec) throws(SupervisorError) -> String {
        if let dir = spec.workingDirectory {
            var st = stat()
            guard stat(dir, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { throw .workingDirectoryMissing(dir) }
        }
        let command = spec.command
        guard !command.isEmpty else { throw .commandNotFound(command) }
        func check(_ path: String) throws(SupervisorError) -> String? {
            var st = stat()
            guard stat(path, &st) == 0, (st.st_mode & S_IFMT) != S_IFDIR else { return nil }
            guard access(path, X_OK) == 0 else { throw .notExecutable(path) }
            return path
        }
        if command.contains("/") {
            let path = command.hasPrefix("/") ? command : "\(spec.workingDirectory ?? currentDirectory())/\(command)"
            if let found = try check(path) { return found }
            throw .commandNotFound(command)
        }
        let searchPath = spec.environment["PATH"] ?? ProcessInfoPath.agentPath
        for dir in searchPath.split(separator: ":") where !dir.isEmpty {
            if let found = try check("\(dir)/\(command)") { return found }
        }
        throw .commandNotFound(command)
    }

    private static func currentDirectory() -> String {
        var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX))
        guard buffer.withUnsafeMutableBufferPointer({ getcwd(UnsafeMutableRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), $0.count) }) != nil else { return "." }
        return String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
    }

    struct Account { var uid: uid_t; var gid: gid_t; var groups: [gid_t] }

    /// How every child of this supervisor starts: in its own process group (whose id is its
    /// pid, so the whole group can be signalled), as `spec.user` when one is named.
    static func platformOptions(_ spec: ProcessSpec) throws(SupervisorError) -> PlatformOptions {
        var options = PlatformOptions()
        options.processGroupID = 0
        if let user = spec.user {
            let account = try lookUpUser(user)
            options.userID = account.uid
            options.groupID = account.gid
            options.supplementaryGroups = account.groups
        }
        return options
    }

    /// The agent's environment with `spec.environment` over it.
    static func environment(_ spec: ProcessSpec) -> Environment {
        Environment.inherit.updating(
            Dictionary(uniqueKeysWithValues: spec.environment.compactMap { key, value in
                Environment.Key(rawValue: key).map { ($0, Optional(value)) }
            }))
    }

    static func lookUpUser(_ name: String) throws(SupervisorError) -> Account {
        var pwd = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16384)
        guard getpwnam_r(name, &pwd, &buffer, buffer.count, &result) == 0, result != nil else { throw .unknownUser(name) }
        var count: Int32 = 64
        var groups = Array(repeating: gid_t(0), count: Int(count))
        if getgrouplist(name, pwd.pw_gid, &groups, &count) < 0 { groups = [pwd.pw_gid]; count = 1 }
        return Account(uid: pwd.pw_uid, gid: pwd.pw_gid, groups: Array(groups.prefix(Int(count))))
    }

    private static func map(_ error: any Error, spec: ProcessSpec, executable: String) -> SupervisorError {
        if let e = error as? SubprocessError {
            if e.code == .init(.executableNotFound) { return .commandNotFound(spec.command) }
            if e.code == .init(.failedToChangeWorkingDirectory) { return .workingDirectoryMissing(spec.workingDirectory ?? "") }
            return .spawnFailed(command: executable, reason: "\(e)")
        }
        return .spawnFailed(command: executable, reason: "\(error)")
    }
}

/// Resumes a continuation exactly once, from whichever side comes first.
private final class Once: Sendable {
    private let slot = Mutex<CheckedContinuation<Result<Int32, SupervisorError>, Never>?>(nil)

    func set(_ c: CheckedContinuation<Result<Int32, SupervisorError>, Never>) { slot.withLock { $0 = c } }

    /// False when it was already resumed.
    @discardableResult
    func resume(_ value: Result<Int32, SupervisorError>) -> Bool {
        guard let c = slot.withLock({ s -> CheckedContinuation<Result<Int32, SupervisorError>, Never>? in
            defer { s = nil }; return s
        }) else { return false }
        c.resume(returning: value)
        return true
    }
}

/// The agent's own PATH, read once.
enum ProcessInfoPath {
    static let agentPath: String = getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin"
}
