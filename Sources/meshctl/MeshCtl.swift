import ArgumentParser
import Foundation
import MeshAPI
import MeshClient
import MeshWire

/// meshctl: talk to any agent of the mesh.
@main
struct MeshCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meshctl",
        abstract: "Control a meshd mesh from any of its agents.",
        discussion: """
        Exit status: 0 on success, 1 when the agent refused or failed the command
        (the reason is on stderr), 2 on bad usage, 130 when Ctrl-C ends -f.
        Tables fit the terminal's width (else $COLUMNS, else 80; --json has
        every field whole), coloured only on a terminal, never with NO_COLOR.
        Shell completion: meshctl --generate-completion-script bash|zsh|fish.
        Examples:
          meshctl members
          meshctl --addr 10.0.0.5:7601 --json status
          meshctl --generate-completion-script bash > /etc/bash_completion.d/meshctl
        """,
        subcommands: [Members.self, Status.self, Join.self, Leave.self, Events.self, EventCommand.self, Var.self,
                      Keys.self, RTT.self, Keygen.self, Run.self, Ps.self, Scale.self, StopWorkload.self, RestartWorkload.self,
                      RemoveWorkload.self, Why.self, Logs.self, Exec.self, Attach.self, StatsCommand.self, Local.self, RaftCommand.self,
                      TokenCommand.self, DeployCommand.self]
    )

    @OptionGroup var global: GlobalOptions

    /// Bad usage exits 2 (docs/INTERFACES.md), not ArgumentParser's 64.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}

/// Options every command takes, before or after the command name.
struct GlobalOptions: ParsableArguments {
    @Option(help: "The agent's API address, HOST:PORT (default: $MESH_ADDR, then 127.0.0.1:7601).")
    var addr: String?
    @Option(help: "A token for the agent's API (default: $MESH_TOKEN), sent as a bearer header.")
    var token: String?
    @Flag(help: "Print one JSON document (an array for lists) and nothing else on stdout.")
    var json = false
    @Option(name: .customLong("as"),
            help: "Who you act for, recorded in the events of the changes you ask for (default: $MESH_USER).")
    var asUser: String?

    var client: APIClient {
        let env = ProcessInfo.processInfo.environment
        return APIClient(address: addr ?? env["MESH_ADDR"].flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1:7601",
                         token: token ?? env["MESH_TOKEN"], user: asUser ?? env["MESH_USER"])
    }

    /// Runs one request and prints its answer: raw JSON with `--json`, else `human`.
    func show<T: Decodable>(_ type: T.Type, _ request: (APIClient) async throws(ClientError) -> Data,
                            human: (T) -> String, succeeded: (T) -> Bool = { _ in true }) async throws {
        try await show(type, request, view: { value, _ in human(value) }, succeeded: succeeded)
    }

    /// Runs one request and prints its answer: raw JSON with `--json`, else `view` in this
    /// terminal's style (its width, colour only on a terminal without `NO_COLOR`).
    func show<T: Decodable>(_ type: T.Type, _ request: (APIClient) async throws(ClientError) -> Data,
                            view: (T, OutputStyle) -> String, succeeded: (T) -> Bool = { _ in true }) async throws {
        let data: Data
        let value: T
        do {
            data = try await request(client)
            value = try APIClient.decode(T.self, data)
        } catch {
            FileHandle.standardError.write(Data("meshctl: \(error)\n".utf8))
            throw ExitCode(1)
        }
        if json {
            FileHandle.standardOutput.write(data.last == UInt8(ascii: "\n") ? data : data + Data("\n".utf8))
        } else {
            FileHandle.standardOutput.write(Data(view(value, Terminal.style).utf8))
        }
        guard succeeded(value) else { throw ExitCode(1) }
    }
}

struct Members: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List every member (the default), or ban one.",
        discussion: """
        Examples:
          meshctl members
          meshctl members ban pi-7
        """,
        subcommands: [List.self, Ban.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List every member: name, id, address, status, incarnation, role, tags, rtt.",
            discussion: """
            The agent answering is marked with *. Statuses: alive, suspect, dead, left.
            Example:
              meshctl members
              meshctl --json members | jq '.[] | select(.status == "alive") | .name'
            """)
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await global.show([MemberInfo].self, { c throws(ClientError) in try await c.get("/v1/members") },
                                  view: Views.members)
        }
    }

    struct Ban: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Ban a node for good: every agent refuses its frames (its key), as soon as its replica applies the ban.",
            discussion: """
            For a lost or stolen machine. The ban names the node's key, so a new address
            does not help it; rotate the cluster key afterwards (meshctl keys
            install/use/remove), which the banned node no longer receives, so it cannot
            even read the mesh's traffic.
            Example:
              meshctl members ban pi-7
            """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The node: a member's name or id prefix, or a full 64-digit id.") var node: String

        func run() async throws {
            let path = "/v1/members/" + Var.escape(node) + "/ban"
            try await global.show(CommandResult.self, { c throws(ClientError) in try await c.post(path, body: Optional<String>.none) },
                                  human: { "banned \(node) (committed at index \($0.index)); rotate the cluster key next\n" })
        }
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show this agent and the mesh: member counts by status, leader, term, voters, quorum.",
        discussion: """
        Example:
          meshctl status
          meshctl --addr 127.0.0.1:7701 status --json
        """)
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await global.show(StatusInfo.self, { c throws(ClientError) in try await c.get("/v1/status") },
                              view: Views.status)
    }
}

struct Join: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask the agent to join peers (HOST:PORT of their mesh port).",
        discussion: """
        The agent keeps retrying with backoff until a peer answers; `meshctl members`
        shows when it did.
        Example:
          meshctl join 10.0.0.2:7600 10.0.0.3:7600
        """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Peers' mesh addresses, HOST:PORT.") var addresses: [String]

    func validate() throws {
        guard !addresses.isEmpty else { throw ValidationError("name at least one peer address, HOST:PORT") }
    }

    func run() async throws {
        let body = JoinRequest(addresses: addresses)
        try await global.show(JoinResponse.self, { c throws(ClientError) in try await c.post("/v1/join", body: body) },
                              human: { "contacting \($0.contacting.joined(separator: ", "))\n" })
    }
}

struct Leave: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make the agent leave the mesh gracefully (peers see it left, not dead); it then stops.",
        discussion: """
        Example:
          meshctl --addr 127.0.0.1:7701 leave
        """)
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await global.show(LeaveResponse.self, { c throws(ClientError) in try await c.post("/v1/leave", body: Optional<JoinRequest>.none) },
                              human: { r in
                                  r.result == "left" ? "left the mesh in \(String(format: "%.2f", r.seconds))s\n"
                                      : "the leave was not confirmed within \(String(format: "%.2f", r.seconds))s; the agent stops anyway\n"
                              })
    }
}

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rotate the cluster key on every live member: list, install, use, remove.",
        discussion: """
        A rotation without downtime: install the new key everywhere, use it
        everywhere, then remove the old one. Each command reports every member's
        answer and exits 1 unless all of them took it. Removing the primary key is
        refused.
        Example:
          NEW=$(meshctl keygen)
          meshctl keys install "$NEW" && meshctl keys use "$NEW" && meshctl keys \\
              remove OLD
        """,
        subcommands: [List.self, Install.self, Use.self, Remove.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the keys held across the live members (by fingerprint).",
            discussion: "Example:\n  meshctl keys list")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await global.show(KeyringInfo.self, { c throws(ClientError) in try await c.get("/v1/keys") },
                                  view: Views.keyring, succeeded: { $0.members.allSatisfy { $0.result == "ok" } })
        }
    }

    struct Install: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Install a key on every live member (it opens frames; sealing stays with the primary).",
            discussion: "Example:\n  meshctl keys install \"$(meshctl keygen)\"")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "A base64 cluster key (make one with `meshctl keygen`).") var key: String
        func run() async throws { try await keyOperation(global, "install", key) }
    }

    struct Use: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make an installed key the primary (sealing) key on every live member.",
            discussion: "Example:\n  meshctl keys use 3F1x...=")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The base64 key, or the fingerprint of a key the agent holds.") var key: String
        func run() async throws { try await keyOperation(global, "use", key) }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a key that is not the primary from every live member.",
            discussion: "Example:\n  meshctl keys remove 6e16d681")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The base64 key, or the fingerprint of a key the agent holds.") var key: String
        func run() async throws { try await keyOperation(global, "remove", key) }
    }

    static func keyOperation(_ global: GlobalOptions, _ operation: String, _ key: String) async throws {
        let body = KeyRequest(key: key)
        try await global.show(KeyOperationResult.self, { c throws(ClientError) in try await c.post("/v1/keys/\(operation)", body: body) },
                              view: Views.keyOperation, succeeded: \.allOK)
    }
}

struct RTT: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rtt",
        abstract: "Estimate the round trip between two members from their network coordinates.",
        discussion: """
        B defaults to the agent answering. Members are named by name or id prefix.
        Example:
          meshctl rtt pi-1 pi-2
          meshctl rtt pi-3
        """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "A member.") var a: String
    @Argument(help: "Another member (default: this agent).") var b: String?

    func run() async throws {
        var query = [("a", a)]
        if let b { query.append(("b", b)) }
        let q = query
        try await global.show(RTTInfo.self, { c throws(ClientError) in try await c.get("/v1/rtt", query: q) }, human: Views.rtt)
    }
}

struct Keygen: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a new random 32-byte cluster key (base64); no agent needed.",
        discussion: """
        With --json: {"key": "..."}.
        Example:
          meshctl keygen > cluster.key && chmod 600 cluster.key
          meshd --cluster-key-file cluster.key
        """
    )
    @OptionGroup var global: GlobalOptions

    func run() {
        let key = ClusterKey.generate().base64
        FileHandle.standardOutput.write(global.json ? Terminal.jsonLine(["key": key]) : Data((key + "\n").utf8))
    }
}
