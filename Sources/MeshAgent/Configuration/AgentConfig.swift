import Foundation

/// Everything an agent needs to start, after flags, the config file, `MESHD_*` variables
/// and the embedded defaults have been merged (in that order of precedence).
public struct AgentConfig: Sendable, Equatable {
    public var name: String
    /// The mesh port: UDP for the protocol, TCP on the same port for bulk transfer.
    public var bind: HostPort
    /// The address peers should use, when it differs from `bind` (NAT, 0.0.0.0 binds).
    public var advertise: HostPort?
    /// The HTTP API; loopback unless told otherwise.
    public var api: HostPort
    public var dataDir: String
    public var join: [HostPort]
    public var tags: [String: String]
    /// A file holding the base64 cluster key; without it the agent makes one in `dataDir`.
    public var clusterKeyFile: String?
    public var logLevel: LogLevelName
    /// The timing profile of the protocol cores.
    public var profile: SettingsProfile
    /// What a starting agent does with the instances the previous agent left running.
    public var workloadRecovery: WorkloadRecovery = .adopt
    /// How often node statistics are sampled (`stats.db`, `/metrics`, membership summary).
    public var statsInterval: Duration = .seconds(10)
    /// Whether an API on loopback also needs a token (one elsewhere always does).
    public var apiRequireToken = false
    /// The API's TLS certificate chain and private key (PEM files); an API that is not on
    /// loopback does not start without them.
    public var apiTLSCertificate: String?
    public var apiTLSKey: String?
    /// Whether a starting agent also joins the members it last knew (`data_dir/peers`).
    public var rejoin = true

    /// Whether the API is bound to a loopback address only.
    public var apiIsLoopback: Bool {
        let h = api.host
        return h == "localhost" || h == "::1" || h.hasPrefix("127.")
    }

    /// Whether the API asks every request for a token.
    public var apiNeedsToken: Bool { apiRequireToken || !apiIsLoopback }

    /// The embedded defaults: a one-node mesh, API on loopback.
    public static func defaults(environment: [String: String]) -> AgentConfig {
        let home = environment["HOME"] ?? "/root"
        let dataHome = environment["XDG_DATA_HOME"] ?? "\(home)/.local/share"
        return AgentConfig(
            name: ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "meshd",
            bind: HostPort(host: "0.0.0.0", port: 7600),
            advertise: nil,
            api: HostPort(host: "127.0.0.1", port: 7601),
            dataDir: "\(dataHome)/meshd",
            join: [], tags: [:], clusterKeyFile: nil, logLevel: .info, profile: .lan)
    }
}

/// What a starting agent does with processes a previous agent started and left running.
public enum WorkloadRecovery: String, CaseIterable, Sendable {
    /// Keep them running and supervise them again.
    case adopt
    /// Stop them (SIGTERM, grace period, SIGKILL).
    case stop
}

/// Log levels, as swift-log names them.
public enum LogLevelName: String, CaseIterable, Sendable {
    case trace, debug, info, notice, warning, error, critical
}

/// Timing profiles for the protocol cores (memberlist's LAN, WAN and local).
public enum SettingsProfile: String, CaseIterable, Sendable {
    case lan, wan, local
}

/// A configuration value that cannot be used. The message names the key, the value, where
/// it came from and what is allowed.
public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    public var key: String
    public var value: String
    public var source: String
    public var allowed: String

    public var description: String {
        "bad configuration: \(key) = \(value) (from \(source)): \(allowed)"
    }
}
