import Foundation

/// The pure half of `meshctl deploy --ssh`: what is checked, which shell scripts run on a
/// host and what they write. The command (Sources/meshctl/Deploy.swift) only runs `ssh`
/// and `scp` with these and reports; everything here is checked by DeployTests.
public enum Deploy {
    /// Limits of one `meshctl deploy` run.
    public struct Settings: Sendable, Equatable {
        /// Hosts one run takes at most.
        public var maxHosts = 64
        /// Hosts deployed at the same time (`--parallel`), and its bounds.
        public var parallelHosts = 4
        public static let parallelRange = 1 ... 32
        /// From the first ssh to the host's agent seen alive in the mesh (`--timeout`), and its bounds.
        public var perHostTimeout: Duration = .seconds(180)
        public static let timeoutRangeSeconds = 10 ... 3600
        /// ssh's own connect timeout (`-o ConnectTimeout`), so a dead host fails fast.
        public var sshConnectTimeout: Duration = .seconds(10)
        /// How often the local agent's members are read while waiting for a host to join.
        public var joinPollInterval: Duration = .milliseconds(500)
        /// The most output of one remote command that is kept (for the error message).
        public var maxCapturedBytes = 64 * 1024

        public init() {}
    }

    /// Why a deploy cannot start or a host failed; each message says what to do.
    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        case badTarget(String, reason: String)
        case tooManyHosts(count: Int, limit: Int)
        case duplicateTarget(String)
        case badTag(String)
        case badSSHOption(String)
        case loopbackJoin(String)
        case unreadableBinary(path: String, reason: String)
        case notELF(path: String)
        case badKey(path: String, reason: String)
        case archMismatch(host: String, remote: String, binary: String)
        case unexpectedProbe(host: String, output: String)
        case portInUse(host: String, port: Int)

        public var description: String {
            switch self {
            case let .badTarget(t, reason): "--ssh \(t): \(reason) (USER@HOST or HOST, as ssh takes it)"
            case let .tooManyHosts(count, limit): "\(count) hosts, at most \(limit) per run: deploy them in batches"
            case let .duplicateTarget(t): "--ssh \(t) is named twice"
            case let .badTag(t): "--tag \(t): KEY=VALUE"
            case let .badSSHOption(o): "--ssh-option \(o): an ssh_config OPTION=VALUE (e.g. IdentityFile=~/.ssh/pi)"
            case let .loopbackJoin(a):
                "the agent advertises \(a), which other hosts cannot reach: give --join HOST:PORT (an address of a member they can reach), or run that agent with --advertise"
            case let .unreadableBinary(path, reason): "cannot read \(path): \(reason) (give --meshd/--meshctl PATH)"
            case let .notELF(path): "\(path) is not a Linux executable (ELF): give --meshd/--meshctl a Linux build"
            case let .badKey(path, reason): "--cluster-key-file \(path): \(reason)"
            case let .archMismatch(host, remote, binary):
                "\(host) is \(remote) but the meshd given is built for \(binary): build for \(remote) (README: Raspberry Pi) and give --meshd PATH"
            case let .unexpectedProbe(host, output): "\(host) answered the probe with something unexpected: \(output.prefix(300))"
            case let .portInUse(host, port): "UDP port \(port) is in use on \(host) by a program that is not meshd: free it, or deploy a mesh on another port (--join HOST:PORT)"
            }
        }
    }

    /// One `--ssh` target, checked so it can never be read by ssh as an option.
    public struct Target: Sendable, Equatable, Hashable, CustomStringConvertible {
        public let user: String?
        public let host: String
        public var description: String { user.map { "\($0)@\(host)" } ?? host }

        public static let maxLength = 255

        public init(parsing text: String) throws(Failure) {
            guard !text.isEmpty, text.count <= Self.maxLength else { throw .badTarget(text, reason: "empty or longer than \(Self.maxLength)") }
            guard !text.hasPrefix("-") else { throw .badTarget(text, reason: "must not start with -") }
            let parts = text.split(separator: "@", omittingEmptySubsequences: false)
            guard parts.count <= 2, parts.allSatisfy({ !$0.isEmpty }) else { throw .badTarget(text, reason: "one @ between a user and a host") }
            let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: ".-_:[]%"))
            for part in parts where part.unicodeScalars.contains(where: { !allowed.contains($0) }) || part.hasPrefix("-") {
                throw .badTarget(text, reason: "letters, digits, '.', '-', '_' and an IPv6 address's ':' only")
            }
            user = parts.count == 2 ? String(parts[0]) : nil
            host = String(parts.last!)
        }
    }

    /// What the probe learns about a host before anything is copied.
    public struct RemoteFacts: Sendable, Equatable {
        /// `uname -m`.
        public var arch: String
        public var uid: Int
        public var home: String
        /// The host's own name up to its first `.`: the agent's name there.
        public var hostname: String
        /// The address this ssh connection reached the host at (from `SSH_CONNECTION`):
        /// what the agent advertises, since the deploying host could reach it there.
        public var address: String
        /// Whether systemd runs there (`/run/systemd/system` exists).
        public var systemd: Bool
        /// A meshd process runs there, in the network namespace ssh reached (another
        /// namespace's agent, as in the end-to-end test, does not count).
        public var meshdRunning: Bool
        /// The mesh port is bound there (UDP, from /proc/net/udp and udp6).
        public var portInUse: Bool

        public init(arch: String, uid: Int, home: String, hostname: String, address: String, systemd: Bool, meshdRunning: Bool,
                    portInUse: Bool = false) {
            self.arch = arch; self.uid = uid; self.home = home; self.hostname = hostname
            self.address = address; self.systemd = systemd; self.meshdRunning = meshdRunning; self.portInUse = portInUse
        }
    }

    /// Run with `sh -s`; prints `key=value` lines `parseProbe` reads. POSIX sh, Linux /proc.
    public static func probeScript(meshPort: Int) -> String {
        let portHex = String(format: "%04X", meshPort)
        return """
        set -u
        echo "arch=$(uname -m)"
        echo "uid=$(id -u)"
        echo "home=$HOME"
        h=$(hostname 2>/dev/null || uname -n); echo "hostname=${h%%.*}"
        set -- ${SSH_CONNECTION:-}; echo "address=${3:-}"
        if [ -d /run/systemd/system ]; then echo systemd=1; else echo systemd=0; fi
        running=0
        own=$(readlink /proc/self/ns/net 2>/dev/null || echo none)
        for d in /proc/[0-9]*; do
          [ "$(cat "$d/comm" 2>/dev/null)" = meshd ] || continue
          [ "$(readlink "$d/ns/net" 2>/dev/null)" = "$own" ] && running=1 && break
        done
        echo "meshd_running=$running"
        if cat /proc/net/udp /proc/net/udp6 2>/dev/null | awk '{print $2}' | grep -q ':\(portHex)$'; then
          echo port_in_use=1
        else
          echo port_in_use=0
        fi
        echo probe=done

        """
    }

    public static func parseProbe(_ output: String, host: String) throws(Failure) -> RemoteFacts {
        var values: [String: String] = [:]
        for line in output.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            values[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        guard values["probe"] == "done", let arch = values["arch"], !arch.isEmpty, let uid = values["uid"].flatMap({ Int($0) }),
              let home = values["home"], let hostname = values["hostname"], !hostname.isEmpty,
              let address = values["address"], !address.isEmpty else {
            throw .unexpectedProbe(host: host, output: output)
        }
        return RemoteFacts(arch: arch, uid: uid, home: home, hostname: hostname, address: address,
                           systemd: values["systemd"] == "1", meshdRunning: values["meshd_running"] == "1",
                           portInUse: values["port_in_use"] == "1")
    }

    /// Where meshd goes on a host.
    public struct Layout: Sendable, Equatable {
        public var binDir: String
        public var configFile: String
        public var keyFile: String
        public var dataDir: String
        /// Installs configs/meshd.service (root, systemd running, the standard paths);
        /// else the agent is started in the background with a pid file.
        public var systemdUnit: Bool
        public var pidFile: String { dataDir + "/meshd.pid" }
        public var logFile: String { dataDir + "/meshd.log" }

        public init(binDir: String, configFile: String, keyFile: String, dataDir: String, systemdUnit: Bool) {
            self.binDir = binDir; self.configFile = configFile; self.keyFile = keyFile; self.dataDir = dataDir
            self.systemdUnit = systemdUnit
        }

        /// Root: the paths of configs/meshd.service. Any other user: under their home
        /// (XDG). With `remoteDir`: everything under it, and never the unit (its paths
        /// are fixed), e.g. for a host whose system directories must stay untouched.
        public static func choose(for facts: RemoteFacts, remoteDir: String?) -> Layout {
            if let dir = remoteDir {
                return Layout(binDir: dir + "/bin", configFile: dir + "/meshd.json", keyFile: dir + "/cluster.key",
                              dataDir: dir + "/data", systemdUnit: false)
            }
            if facts.uid == 0 {
                return Layout(binDir: "/usr/local/bin", configFile: "/etc/meshd/meshd.json", keyFile: "/etc/meshd/cluster.key",
                              dataDir: "/var/lib/meshd", systemdUnit: facts.systemd)
            }
            return Layout(binDir: facts.home + "/.local/bin", configFile: facts.home + "/.config/meshd/meshd.json",
                          keyFile: facts.home + "/.config/meshd/cluster.key", dataDir: facts.home + "/.local/share/meshd",
                          systemdUnit: false)
        }
    }

    /// The agent's configuration file on a host (docs/INTERFACES.md "Configuration").
    public static func configuration(facts: RemoteFacts, layout: Layout, meshPort: Int, join: [String], tags: [String: String],
                                     profile: String?) -> String {
        var object: [String: Any] = [
            "name": facts.hostname,
            "bind": "0.0.0.0:\(meshPort)",
            "advertise": hostPort(facts.address, meshPort),
            "api": "127.0.0.1:7601",
            "data_dir": layout.dataDir,
            "cluster_key_file": layout.keyFile,
            "join": join,
        ]
        if !tags.isEmpty { object["tags"] = tags }
        if let profile { object["profile"] = profile }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// `HOST:PORT`, an IPv6 host in brackets.
    public static func hostPort(_ host: String, _ port: Int) -> String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Run with `sh -s` after the binaries were copied to `stagingDir`: writes the config
    /// and the key (0600, never on a command line), moves the binaries into place, then
    /// starts the agent (systemd unit, or `setsid nohup` with a pid file). Fails on the
    /// first error (`set -e`) and prints `started=systemd` or `started=background`.
    public static func installScript(layout: Layout, stagingDir: String, configuration: String, clusterKey: String, unit: String) -> String {
        var s = """
            set -eu
            umask 077
            staging=\(quote(stagingDir))
            # Readable folders (the unit's user must reach the binary and the config); the
            # key itself is 0600 and the data directory 0700.
            install -d -m 0755 \(quote(layout.binDir)) "$(dirname \(quote(layout.configFile)))" "$(dirname \(quote(layout.keyFile)))"
            mkdir -p -m 0700 \(quote(layout.dataDir))
            install -m 0755 "$staging/meshd" "$staging/meshctl" \(quote(layout.binDir))/
            rm -rf "$staging"
            cat > \(quote(layout.keyFile)) <<'MESHD_KEY_EOF'
            \(clusterKey)
            MESHD_KEY_EOF
            chmod 0600 \(quote(layout.keyFile))
            cat > \(quote(layout.configFile)) <<'MESHD_CONFIG_EOF'
            \(configuration)MESHD_CONFIG_EOF
            chmod 0644 \(quote(layout.configFile))

            """
        if layout.systemdUnit {
            s += """
                id meshd >/dev/null 2>&1 || useradd --system --home-dir \(quote(layout.dataDir)) --no-create-home --shell /usr/sbin/nologin meshd
                chown meshd:meshd \(quote(layout.keyFile)) \(quote(layout.dataDir))
                cat > /etc/systemd/system/meshd.service <<'MESHD_UNIT_EOF'
                \(unit)MESHD_UNIT_EOF
                systemctl daemon-reload
                systemctl enable meshd.service >/dev/null 2>&1
                systemctl restart meshd.service
                echo started=systemd

                """
        } else {
            s += """
                cd \(quote(layout.dataDir))
                setsid nohup \(quote(layout.binDir + "/meshd")) --config \(quote(layout.configFile)) \
                  </dev/null >>\(quote(layout.logFile)) 2>&1 &
                echo $! > \(quote(layout.pidFile))
                sleep 1
                if ! kill -0 "$(cat \(quote(layout.pidFile)))" 2>/dev/null; then
                  echo "meshd exited at once; the end of \(layout.logFile):" >&2
                  tail -n 20 \(quote(layout.logFile)) >&2
                  exit 1
                fi
                echo started=background

                """
        }
        return s
    }

    /// `text` as one single-quoted sh word.
    public static func quote(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    /// The `-o` options every ssh and scp call gets before the user's own: no password
    /// prompt can hang a run (keys, the agent and ~/.ssh/config still apply).
    public static func sshOptions(_ settings: Settings, user: [String]) -> [String] {
        let connect = Int(settings.sshConnectTimeout.components.seconds)
        return ["-o", "BatchMode=yes", "-o", "ConnectTimeout=\(connect)"] + user.flatMap { ["-o", $0] }
    }

    /// `uname -m` of the machine an ELF executable is built for (its `e_machine`), nil
    /// when the bytes are not an ELF header.
    public static func elfArchitecture(_ header: Data) -> String? {
        let bytes = [UInt8](header.prefix(20))
        guard bytes.count >= 20, bytes[0 ..< 4] == [0x7F, 0x45, 0x4C, 0x46] else { return nil }
        let machine = bytes[5] == 2 ? UInt16(bytes[18]) << 8 | UInt16(bytes[19]) : UInt16(bytes[19]) << 8 | UInt16(bytes[18])
        switch machine {
        case 0x3E: return "x86_64"
        case 0xB7: return "aarch64"
        case 0x28: return "armv7l"
        case 0xF3: return "riscv64"
        case 0x03: return "i686"
        default: return "machine-\(machine)"
        }
    }

    /// Whether a host whose `uname -m` is `remote` runs a binary built for `binary`.
    public static func runs(remote: String, binary: String) -> Bool {
        if remote == binary { return true }
        let arm64 = ["aarch64", "arm64"], arm32 = ["armv7l", "armv6l", "armv8l"]
        return (arm64.contains(remote) && arm64.contains(binary)) || (arm32.contains(remote) && arm32.contains(binary))
    }
}
