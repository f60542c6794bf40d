import ArgumentParser
import Foundation
import Logging
import MeshAgent
import ServiceLifecycle

/// meshd: the mesh agent. Flags override the config file, which overrides `MESHD_*`.
@main
struct MeshD: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meshd",
        abstract: "The meshd agent: gossip membership, replicated event log, elected leader.",
        discussion: """
        With no arguments it runs a one-node mesh with embedded defaults.
        Examples:
          meshd
          meshd --name pi-1 --bind 0.0.0.0:7600 --join 10.0.0.2:7600 --tag arch=arm64
          meshd --name a --bind 127.0.0.1:7700 --api 127.0.0.1:7701 --profile local --join 127.0.0.1:7600
        """
    )

    @Option(help: "A JSON config file (see configs/).") var config: String?
    @Option(help: "This node's name (a label; the identity is its key).") var name: String?
    @Option(help: "Mesh address: UDP protocol and TCP bulk transfer on the same port.") var bind: String?
    @Option(help: "The address peers should use to reach this node.") var advertise: String?
    @Option(help: "HTTP API address (loopback unless told otherwise).") var api: String?
    @Option(help: "Where the identity, keys and databases live.") var dataDir: String?
    @Option(help: "A peer to join (repeatable).") var join: [String] = []
    @Option(help: "A KEY=VALUE tag (repeatable).") var tag: [String] = []
    @Option(help: "A file holding the base64 cluster key.") var clusterKeyFile: String?
    @Option(help: "trace, debug, info, notice, warning, error or critical.") var logLevel: String?
    @Option(help: "Timing profile: lan, wan or local.") var profile: String?
    @Option(help: "Instances the previous agent left running: adopt or stop.") var workloadRecovery: String?
    @Option(help: "Seconds between statistics samples (1-3600).") var statsInterval: String?
    @Option(help: "true: the API asks for a token even on loopback (elsewhere it always does).") var apiRequireToken: String?
    @Option(help: "The API's TLS certificate chain (PEM), required when the API is not on loopback.") var apiTlsCert: String?
    @Option(help: "The API's TLS private key (PEM).") var apiTlsKey: String?
    @Option(help: "false: do not join the members this agent last knew (data_dir/peers) on start.") var rejoin: String?

    func flagLayer() throws(ConfigError) -> [String: RawSetting] {
        var flags: [String: RawSetting] = [:]
        let texts: [(String, String?)] = [("name", name), ("bind", bind), ("advertise", advertise), ("api", api),
                                          ("data_dir", dataDir), ("cluster_key_file", clusterKeyFile),
                                          ("log_level", logLevel), ("profile", profile),
                                          ("workload_recovery", workloadRecovery), ("stats_interval", statsInterval),
                                          ("api_require_token", apiRequireToken), ("api_tls_cert", apiTlsCert),
                                          ("api_tls_key", apiTlsKey), ("rejoin", rejoin)]
        for case let (key, value?) in texts { flags[key] = .text(value) }
        if !join.isEmpty { flags["join"] = .list(join) }
        if !tag.isEmpty {
            var table: [String: String] = [:]
            for pair in tag {
                let (k, v) = try ConfigLoader.parseTag(pair, source: "flag --tag")
                table[k] = v
            }
            flags["tags"] = .table(table)
        }
        return flags
    }

    func run() async throws {
        let agentConfig: AgentConfig
        do {
            agentConfig = try ConfigLoader.load(flags: try flagLayer(), configFile: config,
                                                environment: ProcessInfo.processInfo.environment)
        } catch {
            FileHandle.standardError.write(Data("meshd: \(error)\n".utf8))
            throw ExitCode(2)
        }
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        var logger = Logger(label: "meshd")
        logger.logLevel = Logger.Level(rawValue: agentConfig.logLevel.rawValue) ?? .info
        let agent = AgentService(config: agentConfig, logger: logger) { banner in
            // Written straight to the file descriptor so that scripts piping stdout see the
            // lines at once, not when a buffer fills.
            FileHandle.standardOutput.write(Data(banner.lines.map { $0 + "\n" }.joined().utf8))
        } onAPIReady: { address in
            FileHandle.standardOutput.write(Data((AgentBanner.apiLine(address, tls: agentConfig.apiTLSCertificate != nil) + "\n").utf8))
        }
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: agent, successTerminationBehavior: .gracefullyShutdownGroup)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        do {
            try await group.run()
        } catch {
            FileHandle.standardError.write(Data("meshd: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
