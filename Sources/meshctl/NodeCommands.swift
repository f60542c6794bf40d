import ArgumentParser
import Foundation
import MeshAPI
import MeshClient

/// `meshctl ps [NAME]`: instances on every live member.
struct Ps: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List instances on every live member: workload, instance, node, state, pid, restarts, started, cpu, rss.",
        discussion: """
        The agent asks every live member; a member that does not answer in time is
        listed as unreachable. cpu is % of one core over the last stats interval.
        Examples:
          meshctl ps
          meshctl ps web
          meshctl --json ps | jq '.[] | select(.state == "running")'
        """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Only this workload (or NAME.INSTANCE).") var name: String?

    func run() async throws {
        let q = name.map { [("name", $0)] } ?? []
        try await global.show([InstanceRow].self, { c throws(ClientError) in try await c.get("/v1/instances", query: q) },
                              view: Views.instances)
    }
}

/// `meshctl logs NAME[.INSTANCE] [-f] [--tail N]`: output from whichever node runs it.
struct Logs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show an instance's stdout (or --stderr), from whichever node runs it.",
        discussion: """
        NAME alone is enough when the workload has one instance (or one running).
        Examples:
          meshctl logs web.0 --tail 50
          meshctl logs web -f
          meshctl logs web.1 --stderr --node pi-3
        """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "NAME or NAME.INSTANCE.") var instance: String
    @Flag(name: [.customShort("f"), .long], help: "Keep printing new output as it is written.") var follow = false
    @Option(help: "Only the last N lines.") var tail: Int?
    @Flag(help: "Show stderr instead of stdout.") var stderr = false
    @Option(help: "The node that runs it (default: found by asking the members).") var node: String?

    /// How often `-f` asks for new output when there was none.
    static let followPollInterval = Duration.milliseconds(250)

    func run() async throws {
        guard tail.map({ $0 >= 0 }) ?? true else { throw ValidationError("--tail takes a number of lines, 0 or more") }
        let path = "/v1/logs/" + (instance.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? instance)
        var base: [(String, String)] = [("stream", stderr ? "stderr" : "stdout")]
        if let node { base.append(("node", node)) }
        if !follow && !global.json {
            let data: Data
            do { data = try await global.client.get(path, query: base + (tail.map { [("tail", "\($0)")] } ?? [])) } catch {
                FileHandle.standardError.write(Data("meshctl: \(error)\n".utf8))
                throw ExitCode(1)
            }
            FileHandle.standardOutput.write(data)
            return
        }
        var query = base + [("format", "json")] + (tail.map { [("tail", "\($0)")] } ?? [])
        if follow { Terminal.endFollowCleanlyOnInterrupt() }
        while true {
            let chunk: LogChunkInfo
            do { chunk = try APIClient.decode(LogChunkInfo.self, try await global.client.get(path, query: query)) } catch {
                FileHandle.standardError.write(Data("meshctl: \(error)\n".utf8))
                throw ExitCode(1)
            }
            if global.json {
                FileHandle.standardOutput.write(Terminal.jsonLine(chunk))
            } else {
                if let message = chunk.gapMessage { FileHandle.standardError.write(Data("meshctl: \(message)\n".utf8)) }
                FileHandle.standardOutput.write(Data(chunk.text.utf8))
            }
            guard follow else { return }
            // Later requests name the instance exactly, on the node that answered.
            query = [("stream", stderr ? "stderr" : "stdout"), ("node", chunk.node), ("format", "json"), ("cursor", chunk.cursor)]
            if chunk.text.isEmpty { try await Task.sleep(for: Self.followPollInterval) }
        }
    }
}

/// `meshctl stats [NODE]`: a node's latest sample and recent history.
struct StatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Show a node's statistics: the latest sample and recent history (this agent's node by default).",
        discussion: """
        Examples:
          meshctl stats
          meshctl stats pi-3 --since 1h
          meshctl --json stats pi-3 | jq .memory_available_bytes
        """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "A member's name (or id prefix).") var node: String?
    @Option(help: "History of the last DURATION (90s, 30m, 1h; default 15m, at most 1d).") var since: String?

    func run() async throws {
        let path = node.map { "/v1/stats/" + ($0.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? $0) } ?? "/v1/stats"
        let q = since.map { [("since", $0)] } ?? []
        try await global.show(NodeStatsInfo.self, { c throws(ClientError) in try await c.get(path, query: q) }, view: Views.stats)
    }
}

/// `meshctl local run|stop|ps`: this agent's supervisor, directly (until the scheduler).
struct Local: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start and stop processes on the agent's own node (local control, no scheduling).",
        discussion: """
        Examples:
          meshctl local run web -- python3 -m http.server 8000
          meshctl local ps
          meshctl local stop web.0
        """,
        subcommands: [Run.self, Stop.self, List.self])

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start NAME.INSTANCE on this agent's node.",
            discussion: """
            Examples:
              meshctl local run web -- python3 -m http.server 8000
              meshctl local run job --instance 2 --restart never --grace 30 --workdir \\
                  /srv/job -- ./run.sh
            """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The workload's name.") var name: String
        @Option(help: "The instance (default 0).") var instance: String?
        @Option(help: "always, on-failure (default) or never.") var restart: String?
        @Option(help: "Seconds between SIGTERM and SIGKILL on stop (default 10).") var grace: Double?
        @Option(help: "Working directory (must exist).") var workdir: String?
        @Option(help: "KEY=VALUE added to the environment (repeatable).") var env: [String] = []
        @Flag(help: "Keep running when the agent stops (the next agent adopts it).") var surviveAgent = false
        @Flag(help: "Give it a stdin that `meshctl attach` writes to (default: /dev/null).") var stdin = false
        @Argument(parsing: .postTerminator, help: "-- COMMAND ARGS...") var command: [String] = []

        func validate() throws {
            guard !command.isEmpty else { throw ValidationError("give the command after --, e.g. meshctl local run web -- sleep 60") }
            for pair in env where !pair.contains("=") { throw ValidationError("--env \(pair): KEY=VALUE") }
        }

        func run() async throws {
            var environment: [String: String] = [:]
            for pair in env {
                let eq = pair.firstIndex(of: "=")!
                environment[String(pair[..<eq])] = String(pair[pair.index(after: eq)...])
            }
            let body = InstanceStartRequest(name: name, instance: instance, command: command[0], args: Array(command.dropFirst()),
                                            env: environment.isEmpty ? nil : environment, workdir: workdir, restart: restart,
                                            graceSeconds: grace, surviveAgent: surviveAgent ? true : nil, stdin: stdin ? true : nil)
            try await global.show(InstanceRow.self, { c throws(ClientError) in try await c.post("/v1/local/instances", body: body) },
                                  human: { "started \($0.id) on \($0.node) (pid \($0.pid.map { "\($0)" } ?? "-"))\n" })
        }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop NAME.INSTANCE on this agent's node: SIGTERM, its grace period, then SIGKILL.",
            discussion: "Example:\n  meshctl local stop web.0")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "NAME.INSTANCE.") var instance: String

        func run() async throws {
            let path = "/v1/local/instances/" + (instance.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? instance)
            try await global.show(InstanceStopResult.self, { c throws(ClientError) in try await c.delete(path) },
                                  human: { "stopped \($0.instance): \($0.result) after \(Views.format1($0.seconds))s\n" })
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ps", abstract: "List this agent's own instances.",
                                                        discussion: "Example:\n  meshctl --addr 127.0.0.1:7611 local ps")
        @OptionGroup var global: GlobalOptions
        func run() async throws {
            try await global.show([InstanceRow].self, { c throws(ClientError) in try await c.get("/v1/local/instances") },
                                  view: Views.instances)
        }
    }
}
