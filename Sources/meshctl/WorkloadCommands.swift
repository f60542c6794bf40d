import ArgumentParser
import Foundation
import MeshAPI
import MeshClient

/// `meshctl run NAME [flags] -- CMD ARGS...`: a workload the mesh keeps running.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run COUNT instances of a command somewhere on the mesh; the leader places them and keeps them placed.",
        discussion: """
        Arguments may hold {{instance}} (the instance number), {{node}} (the node's
        name), {{name}} (NAME.INSTANCE) and {{peers}} (the mesh hosts of the other
        instances, comma-separated, in instance order). Answers once the workload is
        committed; `meshctl ps NAME` shows where its instances run, `meshctl why NAME`
        why they run there.
        Examples:
          meshctl run web --count 3 -- python3 -m http.server 8000
          meshctl run cache --constraint arch=aarch64 --constraint 'zone in a,b' \\
              --mem 256 -- redis-server
          meshctl run batch --binpack --restart never --reschedule-after 10 -- \\
              ./job.sh {{instance}}
          meshctl run site --git https://example.org/site.git --ref main \\
              --stop-after-disconnect 60 -- ./serve.sh
        With --git, the command runs in the instance's checkout (--dir: a directory
        inside it).
        """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The workload's name (1-64 letters, digits, _ or -).") var name: String
    @Option(help: "Instances (default 1).") var count: Int?
    @Option(help: "KEY=VALUE, KEY!=VALUE or 'KEY in A,B' on name, arch or a node tag (repeatable).") var constraint: [String] = []
    @Option(help: "CPU millicores reserved per instance.") var cpu: Int?
    @Option(help: "Memory MB reserved per instance.") var mem: Int?
    @Option(help: "always, on-failure (default) or never.") var restart: String?
    @Flag(help: "Fewest instances per node, then most room (the default).") var spread = false
    @Flag(help: "Fill nodes one after another.") var binpack = false
    @Option(help: "KEY=VALUE added to the environment (repeatable).") var env: [String] = []
    @Option(help: "Working directory on every node (must exist there).") var dir: String?
    @Option(help: "Seconds a node may be unreachable before its instances move (default 30).") var rescheduleAfter: Double?
    @Option(help: "After a partition heals: keep_original, keep_replacement (default) or longest_running.") var onHeal: String?
    @Flag(help: "Restart an instance when its {{peers}} change.") var restartOnPeerChange = false
    @Option(help: "Seconds a node that sees no majority of voters keeps the instances before stopping them (default: keeps them).")
    var stopAfterDisconnect: Double?
    @Option(help: "A git URL each node fetches into the instance's directory before starting it (https://, ssh://, git://, file://, user@host:path).")
    var git: String?
    @Option(help: "The branch, tag or commit of --git to check out (default HEAD).") var ref: String?
    @Argument(parsing: .postTerminator, help: "-- COMMAND ARGS...") var command: [String] = []

    func validate() throws {
        guard !(spread && binpack) else { throw ValidationError("--spread and --binpack exclude each other") }
        for pair in env where !pair.contains("=") { throw ValidationError("--env \(pair): KEY=VALUE") }
    }

    func run() async throws {
        var environment: [String: String] = [:]
        for pair in env {
            let eq = pair.firstIndex(of: "=")!
            environment[String(pair[..<eq])] = String(pair[pair.index(after: eq)...])
        }
        // An empty command is the agent's to refuse (and count), like every other bad spec.
        let body = WorkloadSubmitRequest(name: name, command: command, env: environment.isEmpty ? nil : environment, dir: dir,
                                         count: count, cpu: cpu, mem: mem, constraints: constraint.isEmpty ? nil : constraint,
                                         strategy: binpack ? "binpack" : spread ? "spread" : nil, restart: restart,
                                         rescheduleAfter: rescheduleAfter, onHeal: onHeal,
                                         restartOnPeerChange: restartOnPeerChange ? true : nil,
                                         stopAfterDisconnect: stopAfterDisconnect, git: git, ref: ref)
        try await global.show(CommandResult.self, { c throws(ClientError) in try await c.post("/v1/workloads", body: body) },
                              human: { "submitted \(name) (committed at index \($0.index)); see meshctl ps \(name)\n" })
    }
}

/// `meshctl scale NAME N`.
struct Scale: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Change a workload's instance count.",
                                                    discussion: "Example:\n  meshctl scale web 5")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The workload.") var name: String
    @Argument(help: "The new count (0 keeps the spec, like stop).") var count: Int
    func run() async throws {
        let body = WorkloadScaleRequest(count: count)
        try await global.show(CommandResult.self, { c throws(ClientError) in try await c.post(Workloads.path(name, "scale"), body: body) },
                              human: { "scaled \(name) to \(count) (committed at index \($0.index))\n" })
    }
}

/// `meshctl stop NAME`: count 0, the spec kept (`scale` brings it back; `rm` removes it).
struct StopWorkload: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stop",
                                                    abstract: "Stop every instance of a workload, keeping its spec (scale brings it back).",
                                                    discussion: "Example:\n  meshctl stop web")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The workload.") var name: String
    func run() async throws {
        try await Workloads.act(global, name, "stop", done: "stopping \(name)")
    }
}

/// `meshctl restart NAME`: rolling, one instance at a time.
struct RestartWorkload: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "restart",
                                                    abstract: "Restart a workload's instances one at a time (count-1 keep running).",
                                                    discussion: "Example:\n  meshctl restart web")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The workload.") var name: String
    func run() async throws {
        try await Workloads.act(global, name, "restart", done: "restarting \(name) one instance at a time")
    }
}

/// `meshctl rm NAME`.
struct RemoveWorkload: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove a workload: its instances stop and its spec goes.",
                                                    discussion: "Example:\n  meshctl rm web")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The workload.") var name: String
    func run() async throws {
        try await global.show(CommandResult.self, { c throws(ClientError) in try await c.delete(Workloads.path(name)) },
                              human: { "removed \(name) (committed at index \($0.index))\n" })
    }
}

/// `meshctl why NAME[.INSTANCE]`: the scheduler's reasoning.
struct Why: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Explain a workload's placement: every node's verdict (excluded and why, or its score), and what last moved the instance.",
        discussion: """
        Examples:
          meshctl why web
          meshctl why web.2
        """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "NAME or NAME.INSTANCE.") var target: String

    func run() async throws {
        var name = target, query: [(String, String)] = []
        if let dot = target.lastIndex(of: ".") {
            name = String(target[..<dot])
            query = [("instance", String(target[target.index(after: dot)...]))]
        }
        try await global.show(WhyInfo.self, { c throws(ClientError) in try await c.get(Workloads.path(name, "why"), query: query) },
                              view: Views.why)
    }
}

enum Workloads {
    struct Empty: Codable, Sendable {}

    /// `POST /v1/workloads/NAME/ACTION` and its one-line answer.
    static func act(_ global: GlobalOptions, _ name: String, _ action: String, done: String) async throws {
        try await global.show(CommandResult.self, { c throws(ClientError) in try await c.post(path(name, action), body: Empty()) },
                              human: { "\(done) (committed at index \($0.index))\n" })
    }

    static func path(_ name: String, _ action: String? = nil) -> String {
        let escaped = name.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? name
        return "/v1/workloads/" + escaped + (action.map { "/" + $0 } ?? "")
    }
}
