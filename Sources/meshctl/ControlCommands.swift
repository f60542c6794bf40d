import ArgumentParser
import Foundation
import MeshAPI
import MeshClient

/// `meshctl events`: the replicated event log, from any agent's own copy.
struct Events: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the replicated event log: membership changes, agent starts and stops, applied commands, user events.",
        discussion: """
        Every agent holds the whole log and answers from its own copy, even when cut
        off.
        Examples:
          meshctl events --since 1h --kind member.
          meshctl events -f --node pi-3
          meshctl --json events --kind control. | jq '.[].attributes'
        """)
    @OptionGroup var global: GlobalOptions
    @Flag(name: [.customShort("f"), .long], help: "Keep printing new events as they arrive.") var follow = false
    @Option(help: "Only events of the last DURATION (90s, 30m, 1h, 2d).") var since: String?
    @Option(help: "Only events whose kind starts with this prefix (member., user.deploy).") var kind: String?
    @Option(help: "Only events written by this member (name or id prefix).") var node: String?
    @Option(help: "At most this many events.") var limit: Int = 1000

    /// How often `-f` asks the agent for new events.
    static let followPollInterval = Duration.milliseconds(500)

    func query(since: String?) -> [(String, String)] {
        var q: [(String, String)] = [("limit", "\(limit)")]
        if let since { q.append(("since", since)) }
        if let kind { q.append(("kind", kind)) }
        if let node { q.append(("node", node)) }
        return q
    }

    func run() async throws {
        let q = query(since: since)
        guard follow else {
            try await global.show([EventInfo].self, { c throws(ClientError) in try await c.get("/v1/events", query: q) },
                                  view: Views.events)
            return
        }
        // Follow: poll with a moving window and print each event once, until Ctrl-C.
        Terminal.endFollowCleanlyOnInterrupt()
        var seen = Set<String>()
        var window = since ?? "10s"
        while true {
            let events: [EventInfo]
            do { events = try APIClient.decode([EventInfo].self, try await global.client.get("/v1/events", query: query(since: window))) } catch {
                FileHandle.standardError.write(Data("meshctl: \(error)\n".utf8))
                throw ExitCode(1)
            }
            for e in events where seen.insert("\(e.origin)/\(e.seq)").inserted {
                FileHandle.standardOutput.write(global.json ? Terminal.jsonLine(e) : Data(Views.eventLine(e, style: Terminal.style).utf8))
            }
            if seen.count > 100_000 { seen.removeAll() }
            window = "60s"
            try await Task.sleep(for: Self.followPollInterval)
        }
    }
}

/// `meshctl event send KIND [KEY=VALUE]...`
struct EventCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "event", abstract: "Append a user event to the replicated log.",
        discussion: """
        Example:
          meshctl event send user.deploy version=1.4
        """,
        subcommands: [Send.self])

    struct Send: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Append a user event (a dotted kind and KEY=VALUE attributes), recorded with who sent it.",
            discussion: """
            Example:
              meshctl event send user.deploy version=1.4 by=ana
            """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The event's kind, e.g. user.deploy.") var kind: String
        @Argument(help: "Attributes, KEY=VALUE.") var attributes: [String] = []

        func run() async throws {
            var attrs: [String: String] = [:]
            for pair in attributes {
                guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex else {
                    FileHandle.standardError.write(Data("meshctl: \(pair) is not KEY=VALUE\n".utf8))
                    throw ExitCode(2)
                }
                attrs[String(pair[..<eq])] = String(pair[pair.index(after: eq)...])
            }
            let body = EventSendRequest(kind: kind, attributes: attrs)
            try await global.show(EventInfo.self, { c throws(ClientError) in try await c.post("/v1/events", body: body) },
                                  human: { "appended \($0.kind) as \($0.node)/\($0.seq)\n" })
        }
    }
}

/// `meshctl var set/get/ls/rm`: mesh-wide variables replicated through the leader.
struct Var: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Mesh-wide variables, replicated through the leader (writes return after commit).",
        discussion: """
        Examples:
          meshctl var set db.host 10.0.0.5
          meshctl var get db.host
          meshctl var get --stale db.host  # this agent's replica, not the leader
          meshctl var ls db.
          meshctl var rm db.host
        """,
        subcommands: [Set.self, Get.self, List.self, Remove.self])

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a variable.", discussion: "Example:\n  meshctl var set db.host 10.0.0.5")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The key (printable ASCII, no spaces).") var key: String
        @Argument(help: "The value.") var value: String
        func run() async throws {
            let body = VarSetRequest(value: value)
            let path = "/v1/vars/" + Var.escape(key)
            try await global.show(CommandResult.self, { c throws(ClientError) in try await c.put(path, body: body) },
                                  human: { "set \(key) (committed at index \($0.index))\n" })
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a variable's value.", discussion: "Example:\n  meshctl var get db.host")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Read this agent's replica without asking the leader.") var stale = false
        @Argument(help: "The key.") var key: String
        func run() async throws {
            let path = "/v1/vars/" + Var.escape(key)
            let query = stale ? [("stale", "1")] : []
            try await global.show(VarsResponse.self, { c throws(ClientError) in try await c.get(path, query: query) },
                                  human: { r in (r.vars.first?.value ?? "") + "\n" })
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List variables (optionally by key prefix).",
                                                        discussion: "Example:\n  meshctl var ls db.")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Read this agent's replica without asking the leader.") var stale = false
        @Argument(help: "Only keys starting with this.") var prefix: String = ""
        func run() async throws {
            var query = [("prefix", prefix)]
            if stale { query.append(("stale", "1")) }
            try await global.show(VarsResponse.self, { c throws(ClientError) in try await c.get("/v1/vars", query: query) },
                                  view: Views.vars)
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove a variable.", discussion: "Example:\n  meshctl var rm db.host")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The key.") var key: String
        func run() async throws {
            let path = "/v1/vars/" + Var.escape(key)
            try await global.show(CommandResult.self, { c throws(ClientError) in try await c.delete(path) },
                                  human: { "removed \(key) (committed at index \($0.index))\n" })
        }
    }

    static func escape(_ key: String) -> String {
        key.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? key
    }
}

/// `meshctl raft recover --force`: the way out when the voter set lost its quorum for good.
struct RaftCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "raft",
        abstract: "Consensus maintenance.",
        discussion: """
        Example:
          meshctl raft recover --force     # only after most voters are gone for good
        """,
        subcommands: [Recover.self])

    struct Recover: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-form the voter set from this agent after the quorum was lost for good.",
            discussion: """
            When most voters are destroyed and will not come back, no leader can be
            elected and every write fails with "no leader". Run this on ONE survivor, the
            one with the highest commit index (`meshctl status`): it becomes the only
            voter in a new term, keeps its log, and the other alive members refill from it
            and are promoted back to voters. Whatever only the lost voters held is lost.
            The agent refuses while a quorum of voters is reachable or a leader is heard.
            Example:
              meshctl --addr 10.0.0.7:7601 raft recover --force
            """)
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Required: confirms that the lost voters are gone for good.") var force = false
        func run() async throws {
            let body = RaftRecoverRequest(force: force)
            try await global.show(RaftRecoverResult.self, { c throws(ClientError) in try await c.post("/v1/raft/recover", body: body) },
                                  human: { r in
                                      "voter set re-formed in term \(r.term): voters \(r.voters.joined(separator: ", ")); "
                                          + "refilling as learners: \(r.learners.isEmpty ? "none" : r.learners.joined(separator: ", "))\n"
                                  })
        }
    }
}
