import ArgumentParser
import Foundation
import MeshAPI
import MeshClient
import MeshWire

/// `meshctl deploy --ssh USER@HOST...`: meshd onto machines that do not run it, over the
/// system's OpenSSH client, each host then waited for in the local agent's members.
struct DeployCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy",
        abstract: "Install and start meshd on hosts over SSH, then wait until each joins the mesh.",
        discussion: """
        For each host, with the system's ssh and scp (your keys, ssh-agent and
        ~/.ssh/config apply; BatchMode: no password prompt): probe it
        (architecture, user, systemd; a meshd already running: skipped), copy
        meshd and meshctl, write the configuration and the cluster key (mode
        0600), start the agent (root where systemd runs: the meshd user and
        configs/meshd.service; else setsid nohup with a pid file in the data
        directory), then poll this agent's members until the host is alive.
        Paths: root: /usr/local/bin, /etc/meshd, /var/lib/meshd; another user:
        ~/.local/bin, ~/.config/meshd, ~/.local/share/meshd; --remote-dir DIR:
        all under DIR. The new agents join --join (default: the address this
        agent advertises), bind its port on 0.0.0.0 and advertise the address
        ssh reached them at. Exit status: 0 when every host joined (or already
        ran meshd), 1 when any failed.
        Examples:
          meshctl deploy --ssh pi@192.168.1.12 pi@192.168.1.13 \\
              --cluster-key-file cluster.key
          meshctl deploy --ssh root@pi-4 --cluster-key-file mesh.key \\
              --meshd ./meshd-aarch64 --meshctl ./meshctl-aarch64 --parallel 2
          meshctl deploy --ssh pi@pi-5 --cluster-key-file mesh.key \\
              --ssh-option IdentityFile=~/.ssh/pi --json
        """)

    @OptionGroup var global: GlobalOptions
    @Option(parsing: .upToNextOption, help: "Hosts to install meshd on, USER@HOST or HOST (one or more, up to 64; repeatable).")
    var ssh: [String] = []
    @Option(help: "The mesh's cluster key (base64, as `meshctl keygen` prints): written to each host with mode 0600.")
    var clusterKeyFile: String
    @Option(help: "The meshd binary to copy (default: the meshd next to this meshctl, else on the PATH).")
    var meshd: String?
    @Option(help: "The meshctl binary to copy (default: this meshctl).")
    var meshctl: String?
    @Option(help: "The address the new agents join, HOST:PORT (default: the address this agent advertises).")
    var join: String?
    @Option(help: "A tag for the new agents, KEY=VALUE (repeatable).")
    var tag: [String] = []
    @Option(help: "The new agents' timing profile: lan, wan or local (default: theirs, lan).")
    var profile: String?
    @Option(help: "Put everything under this directory on each host (bin/, meshd.json, cluster.key, data/); never the systemd unit.")
    var remoteDir: String?
    @Option(help: "An ssh_config OPTION=VALUE for ssh and scp, e.g. IdentityFile=~/.ssh/pi or Port=2222 (repeatable).")
    var sshOption: [String] = []
    @Option(help: "Seconds each host may take, from the first ssh to its agent alive in the mesh (10-3600; default 180).")
    var timeout: Int = Int(Deploy.Settings().perHostTimeout.components.seconds)
    @Option(help: "Hosts deployed at once (1-32; default 4).")
    var parallel: Int = Deploy.Settings().parallelHosts

    func validate() throws {
        guard !ssh.isEmpty else { throw ValidationError("name at least one host: --ssh USER@HOST...") }
        guard Deploy.Settings.timeoutRangeSeconds.contains(timeout) else {
            throw ValidationError("--timeout \(timeout): seconds in \(Deploy.Settings.timeoutRangeSeconds)")
        }
        guard Deploy.Settings.parallelRange.contains(parallel) else {
            throw ValidationError("--parallel \(parallel): hosts in \(Deploy.Settings.parallelRange)")
        }
        if let profile, !["lan", "wan", "local"].contains(profile) { throw ValidationError("--profile \(profile): lan, wan or local") }
        do { _ = try targets(); _ = try tags(); try checkSSHOptions() } catch { throw ValidationError("\(error)") }
    }

    func targets() throws(Deploy.Failure) -> [Deploy.Target] {
        let limit = Deploy.Settings().maxHosts
        guard ssh.count <= limit else { throw .tooManyHosts(count: ssh.count, limit: limit) }
        var seen = Set<Deploy.Target>()
        return try ssh.map { text throws(Deploy.Failure) in
            let t = try Deploy.Target(parsing: text)
            guard seen.insert(t).inserted else { throw .duplicateTarget(text) }
            return t
        }
    }

    func tags() throws(Deploy.Failure) -> [String: String] {
        var out: [String: String] = [:]
        for pair in tag {
            guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex else { throw .badTag(pair) }
            out[String(pair[..<eq])] = String(pair[pair.index(after: eq)...])
        }
        return out
    }

    func checkSSHOptions() throws(Deploy.Failure) {
        for option in sshOption {
            guard let eq = option.firstIndex(of: "="), eq != option.startIndex, !option.hasPrefix("-"),
                  !option.contains("\n") else { throw .badSSHOption(option) }
        }
    }

    func run() async throws {
        let settings = {
            var s = Deploy.Settings()
            s.perHostTimeout = .seconds(timeout)
            s.parallelHosts = parallel
            return s
        }()
        let hosts = try targets()
        let progress = Progress(json: global.json)

        // Everything that can be checked here is, before any host is touched.
        let prepared: Prepared
        do { prepared = try await prepare(settings) } catch let failure as Deploy.Failure {
            FileHandle.standardError.write(Data("meshctl: \(failure)\n".utf8))
            throw ExitCode(1)
        }

        // At most `parallel` hosts at a time: one more starts as each ends.
        let results = await withTaskGroup(of: HostResult.self) { group in
            var results: [HostResult] = []
            var next = 0
            while next < min(settings.parallelHosts, hosts.count) {
                let target = hosts[next]
                group.addTask { await DeployHost.deploy(target, prepared, settings, progress) }
                next += 1
            }
            for await result in group {
                results.append(result)
                if next < hosts.count {
                    let target = hosts[next]
                    group.addTask { await DeployHost.deploy(target, prepared, settings, progress) }
                    next += 1
                }
            }
            return results.sorted { a, b in hosts.firstIndex(of: a.target)! < hosts.firstIndex(of: b.target)! }
        }

        if global.json {
            FileHandle.standardOutput.write(Terminal.jsonLine(results))
        } else {
            var t = TextTable(["host", "result", "node", "seconds", "detail"], flexible: [4])
            t.colours = [1: { $0 == "joined" ? .green : $0 == "skipped" ? .dim : .red }]
            for r in results { t.add([r.target.description, r.result, r.node ?? "-", Views.format1(r.seconds), r.detail]) }
            FileHandle.standardOutput.write(Data(t.render(Terminal.style).utf8))
        }
        guard results.allSatisfy({ $0.result != "failed" }) else { throw ExitCode(1) }
    }

    /// What every host gets: the binaries, their architecture, the key, the join address.
    struct Prepared: Sendable {
        var meshd: String
        var meshctl: String
        var architecture: String
        var clusterKey: String
        var join: String
        var meshPort: Int
        var tags: [String: String]
        var profile: String?
        var remoteDir: String?
        var sshOptions: [String]
        var client: APIClient
    }

    func prepare(_ settings: Deploy.Settings) async throws -> Prepared {
        // This meshctl's own file (/proc/self/exe), whatever name it was started by.
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let meshctlPath = meshctl ?? me
        let sibling = URL(fileURLWithPath: me).deletingLastPathComponent().appendingPathComponent("meshd").path
        let meshdPath = meshd ?? (FileManager.default.isExecutableFile(atPath: sibling) ? sibling : Self.onPath("meshd") ?? sibling)
        let architecture = try Self.architecture(of: meshdPath)
        guard try Self.architecture(of: meshctlPath) == architecture else {
            throw Deploy.Failure.unreadableBinary(path: meshctlPath, reason: "built for another machine than \(meshdPath) (\(architecture))")
        }
        let keyText: String
        do { keyText = try String(contentsOfFile: clusterKeyFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) } catch {
            throw Deploy.Failure.badKey(path: clusterKeyFile, reason: "cannot read it (\(error.localizedDescription))")
        }
        do { _ = try ClusterKey(base64: keyText) } catch {
            throw Deploy.Failure.badKey(path: clusterKeyFile, reason: "\(error); make one with meshctl keygen")
        }
        let client = global.client
        var joinAddress = join
        if joinAddress == nil {
            do {
                let status = try APIClient.decode(StatusInfo.self, try await client.get("/v1/status"))
                joinAddress = status.address
            } catch {
                FileHandle.standardError.write(Data("meshctl: \(error)\n".utf8))
                throw ExitCode(1)
            }
        }
        let address = joinAddress!
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]), (1 ... 65535).contains(port) else {
            throw ValidationError("--join \(address): HOST:PORT")
        }
        let host = address[..<colon].trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if host.hasPrefix("127.") || host == "::1" || host == "localhost" || host == "0.0.0.0" || host == "::" {
            throw Deploy.Failure.loopbackJoin(address)
        }
        return Prepared(meshd: meshdPath, meshctl: meshctlPath, architecture: architecture, clusterKey: keyText, join: address,
                        meshPort: port, tags: try tags(), profile: profile, remoteDir: remoteDir,
                        sshOptions: Deploy.sshOptions(settings, user: sshOption), client: client)
    }

    static func onPath(_ name: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let path = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    static func architecture(of path: String) throws(Deploy.Failure) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw .unreadableBinary(path: path, reason: "no such file, or not readable")
        }
        defer { try? handle.close() }
        let header = (try? handle.read(upToCount: 20)) ?? Data()
        guard let arch = Deploy.elfArchitecture(header) else { throw .notELF(path: path) }
        return arch
    }

    /// The outcome of one host, as printed (`--json`: these objects, in `--ssh` order).
    struct HostResult: Sendable, Encodable {
        var target: Deploy.Target
        /// `joined`, `skipped` (meshd already runs there) or `failed`.
        var result: String
        var node: String?
        var seconds: Double
        var detail: String

        enum CodingKeys: String, CodingKey { case host, result, node, seconds, detail }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(target.description, forKey: .host); try c.encode(result, forKey: .result)
            try c.encode(node, forKey: .node); try c.encode((seconds * 10).rounded() / 10, forKey: .seconds)
            try c.encode(detail, forKey: .detail)
        }
    }

    /// Progress lines, one per step and host, on stdout (stderr with --json).
    final class Progress: Sendable {
        let json: Bool
        init(json: Bool) { self.json = json }
        func say(_ target: Deploy.Target, _ text: String) {
            let line = Data("\(target): \(text)\n".utf8)
            (json ? FileHandle.standardError : FileHandle.standardOutput).write(line)
        }
    }

    static func scpDestination(_ target: Deploy.Target, _ dir: String) -> String {
        let host = target.host.contains(":") ? "[\(target.host)]" : target.host
        return (target.user.map { "\($0)@" } ?? "") + host + ":" + dir + "/"
    }

    static func size(_ path: String) -> String {
        let bytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.uint64Value ?? 0
        return Views.bytes(bytes)
    }
}

/// One host's deploy: probe, copy, install and start, then wait for it in the members.
enum DeployHost {
    static func deploy(_ target: Deploy.Target, _ p: DeployCommand.Prepared, _ settings: Deploy.Settings,
                       _ progress: DeployCommand.Progress) async -> DeployCommand.HostResult {
        let started = ContinuousClock.now
        let deadline = started + settings.perHostTimeout
        func elapsed() -> Double { Double((ContinuousClock.now - started).components.seconds) + Double((ContinuousClock.now - started).components.attoseconds) / 1e18 }
        func fail(_ why: String) -> DeployCommand.HostResult {
            progress.say(target, "failed: \(why)")
            return DeployCommand.HostResult(target: target, result: "failed", node: nil, seconds: elapsed(), detail: why)
        }
        let destination = target.description
        // 1. Probe.
        progress.say(target, "probing")
        let probe = await Remote.run(["ssh"] + p.sshOptions + ["--", destination, "sh -s"], stdin: Deploy.probeScript(meshPort: p.meshPort),
                                     deadline: deadline, settings: settings)
        guard probe.status == 0 else { return fail("ssh: \(probe.summary)") }
        let facts: Deploy.RemoteFacts
        do { facts = try Deploy.parseProbe(probe.output, host: destination) } catch { return fail(error.description) }
        if facts.meshdRunning {
            progress.say(target, "meshd already runs there; skipped")
            return DeployCommand.HostResult(target: target, result: "skipped", node: facts.hostname, seconds: elapsed(), detail: "meshd already runs there")
        }
        guard !facts.portInUse else { return fail(Deploy.Failure.portInUse(host: destination, port: p.meshPort).description) }
        guard Deploy.runs(remote: facts.arch, binary: p.architecture) else {
            return fail(Deploy.Failure.archMismatch(host: destination, remote: facts.arch, binary: p.architecture).description)
        }
        let layout = Deploy.Layout.choose(for: facts, remoteDir: p.remoteDir)
        // 2. Copy the binaries to a staging directory the install script moves them from.
        let staging = "/tmp/meshd-deploy-\(UUID().uuidString.prefix(8).lowercased())"
        progress.say(target, "copying meshd and meshctl (\(facts.arch), \(DeployCommand.size(p.meshd)))")
        let mkdir = await Remote.run(["ssh"] + p.sshOptions + ["--", destination, "mkdir -m 0700 \(Deploy.quote(staging))"],
                                     stdin: nil, deadline: deadline, settings: settings)
        guard mkdir.status == 0 else { return fail("ssh mkdir: \(mkdir.summary)") }
        let copy = await Remote.run(["scp", "-q"] + p.sshOptions + ["--", p.meshd, p.meshctl, DeployCommand.scpDestination(target, staging)],
                                    stdin: nil, deadline: deadline, settings: settings)
        guard copy.status == 0 else { return fail("scp: \(copy.summary)") }
        // 3. Configuration, key, start.
        let configuration = Deploy.configuration(facts: facts, layout: layout, meshPort: p.meshPort, join: [p.join], tags: p.tags,
                                                 profile: p.profile)
        let script = Deploy.installScript(layout: layout, stagingDir: staging, configuration: configuration, clusterKey: p.clusterKey,
                                          unit: SystemdUnit.text)
        progress.say(target, layout.systemdUnit ? "starting meshd.service (systemd)" : "starting meshd in the background (pid file \(layout.pidFile))")
        let install = await Remote.run(["ssh"] + p.sshOptions + ["--", destination, "sh -s"], stdin: script, deadline: deadline, settings: settings)
        guard install.status == 0 else { return fail("install: \(install.summary)") }
        // 4. Wait until the local agent sees it alive.
        let advertise = Deploy.hostPort(facts.address, p.meshPort)
        progress.say(target, "waiting for \(facts.hostname) (\(advertise)) to join")
        var lastSeen = "not a member yet"
        while ContinuousClock.now < deadline {
            if let data = try? await p.client.get("/v1/members"), let members = try? APIClient.decode([MemberInfo].self, data) {
                if let m = members.first(where: { $0.address == advertise || $0.addresses.contains(advertise) }) {
                    if m.status == "alive" {
                        progress.say(target, "joined as \(m.name) in \(Views.format1(elapsed())) s")
                        return DeployCommand.HostResult(target: target, result: "joined", node: m.name, seconds: elapsed(),
                                          detail: layout.systemdUnit ? "meshd.service" : "pid file \(layout.pidFile)")
                    }
                    lastSeen = "a member, \(m.status)"
                }
            }
            try? await Task.sleep(for: settings.joinPollInterval)
        }
        return fail("not alive in the mesh within \(settings.perHostTimeout.components.seconds) s (last seen: \(lastSeen)); its log: "
            + (layout.systemdUnit ? "journalctl -u meshd" : layout.logFile))
    }
}

/// Runs ssh or scp (found on the PATH) with a deadline: killed when it passes.
enum Remote {
    struct Outcome: Sendable {
        var status: Int32
        var output: String
        var timedOut: Bool
        /// The exit status and the end of the output, for an error message.
        var summary: String {
            let lines = output.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            let tail = lines.suffix(5).joined(separator: " / ")
            return timedOut ? "timed out" + (tail.isEmpty ? "" : ": \(tail)") : "exit \(status)" + (tail.isEmpty ? "" : ": \(tail)")
        }
    }

    static func run(_ arguments: [String], stdin: String?, deadline: ContinuousClock.Instant, settings: Deploy.Settings) async -> Outcome {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: runBlocking(arguments, stdin: stdin, deadline: deadline, settings: settings)) }.start()
        }
    }

    private static func runBlocking(_ arguments: [String], stdin: String?, deadline: ContinuousClock.Instant,
                                    settings: Deploy.Settings) -> Outcome {
        let remaining = deadline - ContinuousClock.now
        guard remaining > .zero else { return Outcome(status: -1, output: "", timedOut: true) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = arguments
        let input = Pipe(), output = Pipe()
        if stdin == nil { p.standardInput = FileHandle.nullDevice } else { p.standardInput = input }
        p.standardOutput = output
        p.standardError = output
        do { try p.run() } catch { return Outcome(status: -1, output: "cannot run \(arguments[0]): \(error)", timedOut: false) }
        if let stdin {
            input.fileHandleForWriting.write(Data(stdin.utf8))
            try? input.fileHandleForWriting.close()
        }
        let watchdog = Watchdog(p)
        let timer = DispatchWorkItem { watchdog.fire() }
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(Int(remaining / .milliseconds(1))), execute: timer)
        var captured = Data()
        while true {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            if captured.count < settings.maxCapturedBytes { captured.append(chunk.prefix(settings.maxCapturedBytes - captured.count)) }
        }
        p.waitUntilExit()
        timer.cancel()
        return Outcome(status: p.terminationStatus, output: String(decoding: captured, as: UTF8.self), timedOut: watchdog.fired)
    }
}

/// Ends a process whose deadline passed, from the timer's thread; `fired` is read after
/// the process ended. (Process is not Sendable; its isRunning and terminate are safe to
/// call from another thread.)
final class Watchdog: @unchecked Sendable {
    private let process: Process
    private let lock = NSLock()
    private var didFire = false
    init(_ process: Process) { self.process = process }
    func fire() {
        guard process.isRunning else { return }
        lock.withLock { didFire = true }
        process.terminate()
    }
    var fired: Bool { lock.withLock { didFire } }
}
