import Foundation

/// One raw setting before validation, and where it came from.
public enum RawSetting: Sendable, Equatable {
    case text(String)
    case list([String])
    case table([String: String])
}

/// Merges the configuration sources in precedence order (defaults < `MESHD_*` environment
/// < config file < flags) and validates every value, naming what is wrong.
///
/// The config file is JSON (as Serf's is) with the keys of `ConfigLoader.keys`; see
/// `configs/` for examples. Environment variables are the keys upper-cased with a
/// `MESHD_` prefix; lists are comma-separated and tags are `k=v,k=v`.
public enum ConfigLoader {
    /// Limits on user-supplied values.
    public static let maxNameBytes = 64
    public static let maxTags = 32
    public static let maxTagKeyBytes = 64
    public static let maxTagValueBytes = 256
    public static let maxJoinAddresses = 64
    public static let maxConfigFileBytes = 1 << 20
    /// Bounds of `stats_interval`, in seconds.
    public static let statsIntervalRange = 1 ... 3600

    /// Every key the agent accepts, with what it allows.
    public static let keys: [String: String] = [
        "name": "a name of 1-\(maxNameBytes) letters, digits, '.', '_' or '-'",
        "bind": "HOST:PORT with a port 0-65535, e.g. 0.0.0.0:7600",
        "advertise": "HOST:PORT with a port 1-65535, e.g. 10.0.0.5:7600",
        "api": "HOST:PORT with a port 0-65535, e.g. 127.0.0.1:7601",
        "data_dir": "a non-empty directory path",
        "join": "a list of up to \(maxJoinAddresses) HOST:PORT addresses",
        "tags": "up to \(maxTags) KEY=VALUE pairs; keys of 1-\(maxTagKeyBytes) letters, digits, '.', '_', '-'; values up to \(maxTagValueBytes) bytes",
        "cluster_key_file": "a path to a file holding a base64 cluster key (make one with `meshctl keygen`)",
        "log_level": "one of " + LogLevelName.allCases.map(\.rawValue).joined(separator: ", "),
        "profile": "one of " + SettingsProfile.allCases.map(\.rawValue).joined(separator: ", "),
        "workload_recovery": "one of " + WorkloadRecovery.allCases.map(\.rawValue).joined(separator: ", ")
            + " (what to do with instances the previous agent left running)",
        "stats_interval": "whole seconds between statistics samples, \(statsIntervalRange.lowerBound)-\(statsIntervalRange.upperBound)",
        "api_require_token": "true or false: whether an API on loopback also needs a token (an API on any other address always does)",
        "api_tls_cert": "a path to the API's TLS certificate chain (PEM); required with api_tls_key when the API is not on loopback",
        "api_tls_key": "a path to the API's TLS private key (PEM)",
        "rejoin": "true or false: whether a starting agent also joins the members it last knew (data_dir/peers), as well as `join`",
    ]

    /// The merged, validated configuration.
    /// - Parameters:
    ///   - flags: settings given on the command line (key -> value), highest precedence.
    ///   - configFile: the `--config` path, if any (else `MESHD_CONFIG`).
    ///   - environment: the process environment.
    public static func load(flags: [String: RawSetting], configFile: String?,
                            environment: [String: String]) throws(ConfigError) -> AgentConfig {
        var config = AgentConfig.defaults(environment: environment)
        for (key, raw) in try environmentLayer(environment).sorted(by: { $0.key < $1.key }) {
            try apply(key: key, raw: raw, source: "environment MESHD_\(key.uppercased())", to: &config)
        }
        if let path = configFile ?? environment["MESHD_CONFIG"] {
            for (key, raw) in try fileLayer(path: path).sorted(by: { $0.key < $1.key }) {
                try apply(key: key, raw: raw, source: "config file \(path)", to: &config)
            }
        }
        for (key, raw) in flags.sorted(by: { $0.key < $1.key }) {
            try apply(key: key, raw: raw, source: "flag --\(key.replacingOccurrences(of: "_", with: "-"))", to: &config)
        }
        return config
    }

    /// Settings from `MESHD_*` variables; an unknown `MESHD_` variable is an error (a typo
    /// would otherwise be ignored silently).
    static func environmentLayer(_ environment: [String: String]) throws(ConfigError) -> [String: RawSetting] {
        var out: [String: RawSetting] = [:]
        for (name, value) in environment where name.hasPrefix("MESHD_") && name != "MESHD_CONFIG" {
            let key = String(name.dropFirst("MESHD_".count)).lowercased()
            guard keys[key] != nil else {
                throw ConfigError(key: name, value: value, source: "environment",
                                  allowed: "not a known variable; known: MESHD_CONFIG, " +
                                      keys.keys.sorted().map { "MESHD_\($0.uppercased())" }.joined(separator: ", "))
            }
            switch key {
            case "join": out[key] = .list(splitList(value))
            case "tags":
                var table: [String: String] = [:]
                for pair in splitList(value) {
                    let (k, v) = try parseTag(pair, source: "environment \(name)")
                    table[k] = v
                }
                out[key] = .table(table)
            default: out[key] = .text(value)
            }
        }
        return out
    }

    /// Settings from a JSON config file.
    static func fileLayer(path: String) throws(ConfigError) -> [String: RawSetting] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(key: "config", value: path, source: "--config", allowed: "a readable JSON file")
        }
        return try fileLayer(data: data, path: path)
    }

    /// Settings from the bytes of the JSON config file at `path` (named in errors): the
    /// parser the libFuzzer target `fuzz/ConfigFuzz.swift` feeds.
    static func fileLayer(data: Data, path: String) throws(ConfigError) -> [String: RawSetting] {
        let source = "config file \(path)"
        guard data.count <= maxConfigFileBytes else {
            throw ConfigError(key: "config", value: "\(data.count) bytes", source: source, allowed: "at most \(maxConfigFileBytes) bytes")
        }
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: data) } catch {
            throw ConfigError(key: "config", value: path, source: source,
                              allowed: "a JSON object (\((error as NSError).userInfo["NSDebugDescription"] ?? error))")
        }
        guard let object = json as? [String: Any] else {
            throw ConfigError(key: "config", value: path, source: source, allowed: "a JSON object at the top level")
        }
        var out: [String: RawSetting] = [:]
        for (key, value) in object {
            guard let allowed = keys[key] else {
                // An empty key (`{"": 1}`, found by the seeded fuzz run) is shown as "", not as nothing.
                throw ConfigError(key: key.isEmpty ? "\"\"" : key, value: render(value), source: source,
                                  allowed: "not a known key; known keys: " + keys.keys.sorted().joined(separator: ", "))
            }
            if let s = value as? String, !(value is NSNumber) {
                out[key] = .text(s)
            } else if let n = value as? NSNumber, key == "stats_interval" {
                out[key] = .text(n.stringValue)
            } else if let b = value as? Bool, key == "api_require_token" || key == "rejoin" {
                out[key] = .text(b ? "true" : "false")
            } else if let list = value as? [Any], list.allSatisfy({ $0 is String }), key == "join" {
                out[key] = .list(list as! [String])
            } else if let table = value as? [String: Any], table.values.allSatisfy({ $0 is String }), key == "tags" {
                out[key] = .table(table as! [String: String])
            } else {
                throw ConfigError(key: key, value: render(value), source: source, allowed: allowed)
            }
        }
        return out
    }

    /// Validates one setting and stores it in `config`.
    static func apply(key: String, raw: RawSetting, source: String, to config: inout AgentConfig) throws(ConfigError) {
        guard let allowed = keys[key] else {
            throw ConfigError(key: key, value: "\(raw)", source: source, allowed: "not a known key")
        }
        func fail(_ value: String) -> ConfigError { ConfigError(key: key, value: value, source: source, allowed: allowed) }
        func text() throws(ConfigError) -> String {
            guard case let .text(s) = raw else { throw fail("\(raw)") }
            return s
        }
        /// A path or other text that must not be empty.
        func nonEmpty() throws(ConfigError) -> String {
            let s = try text()
            guard !s.isEmpty else { throw fail("\"\"") }
            return s
        }
        func address(minPort: Int) throws(ConfigError) -> HostPort {
            let s = try text()
            guard let hp = HostPort(parsing: s), hp.port >= minPort else { throw fail(s) }
            return hp
        }
        switch key {
        case "name":
            let s = try text()
            guard isLabel(s, maxBytes: maxNameBytes) else { throw fail(s) }
            config.name = s
        case "bind": config.bind = try address(minPort: 0)
        case "advertise": config.advertise = try address(minPort: 1)
        case "api": config.api = try address(minPort: 0)
        case "data_dir": config.dataDir = try nonEmpty()
        case "join":
            let items: [String]
            switch raw {
            case let .list(l): items = l
            case let .text(s): items = splitList(s)
            case .table: throw fail("\(raw)")
            }
            guard items.count <= maxJoinAddresses else { throw fail("\(items.count) addresses") }
            var out: [HostPort] = []
            for item in items {
                guard let hp = HostPort(parsing: item), hp.port > 0 else { throw fail(item) }
                out.append(hp)
            }
            config.join = out
        case "tags":
            guard case let .table(table) = raw else { throw fail("\(raw)") }
            guard table.count <= maxTags else { throw fail("\(table.count) tags") }
            for (k, v) in table {
                guard isLabel(k, maxBytes: maxTagKeyBytes), v.utf8.count <= maxTagValueBytes else { throw fail("\(k)=\(v)") }
            }
            config.tags = table
        case "cluster_key_file": config.clusterKeyFile = try nonEmpty()
        case "log_level":
            let s = try text()
            guard let level = LogLevelName(rawValue: s) else { throw fail(s) }
            config.logLevel = level
        case "profile":
            let s = try text()
            guard let p = SettingsProfile(rawValue: s) else { throw fail(s) }
            config.profile = p
        case "workload_recovery":
            let s = try text()
            guard let r = WorkloadRecovery(rawValue: s) else { throw fail(s) }
            config.workloadRecovery = r
        case "stats_interval":
            let s = try text()
            guard let n = Int(s), statsIntervalRange.contains(n) else { throw fail(s) }
            config.statsInterval = .seconds(n)
        case "api_require_token":
            let s = try text()
            guard s == "true" || s == "false" else { throw fail(s) }
            config.apiRequireToken = s == "true"
        case "rejoin":
            let s = try text()
            guard s == "true" || s == "false" else { throw fail(s) }
            config.rejoin = s == "true"
        case "api_tls_cert": config.apiTLSCertificate = try nonEmpty()
        case "api_tls_key": config.apiTLSKey = try nonEmpty()
        default:
            throw fail("\(raw)")
        }
    }

    /// Parses `KEY=VALUE` (as `--tag` and `MESHD_TAGS` give it).
    public static func parseTag(_ pair: String, source: String) throws(ConfigError) -> (String, String) {
        guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex else {
            throw ConfigError(key: "tags", value: pair, source: source, allowed: "KEY=VALUE")
        }
        return (String(pair[..<eq]), String(pair[pair.index(after: eq)...]))
    }

    static func splitList(_ s: String) -> [String] {
        s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    static func isLabel(_ s: String, maxBytes: Int) -> Bool {
        !s.isEmpty && s.utf8.count <= maxBytes && s.utf8.allSatisfy {
            ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a)
                || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")
        }
    }

    static func render(_ value: Any) -> String {
        if let s = value as? String { return "\"\(s)\"" }
        if let data = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys]) {
            return String(decoding: data, as: UTF8.self)
        }
        return "\(value)"
    }
}
