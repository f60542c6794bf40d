import ArgumentParser
import Foundation
import MeshAPI
import MeshClient

/// `meshctl token bootstrap|create|list|revoke`: the API's tokens.
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "API tokens: who may read, operate or administer the mesh.",
        discussion: """
        An API on loopback serves local requests without a token unless the agent runs
        with --api-require-token true; an API on any other address (with TLS) asks
        every request for one. Roles: read (members, status, ps, logs, stats, events,
        vars), operate (adds run/stop/scale, var set/rm, event send), admin (adds
        tokens, keys, join, leave, raft). A secret is printed once, when it is made;
        the mesh keeps only its hash.
        Examples:
          meshctl token bootstrap      # the first admin token, on a mesh with none
          export MESH_TOKEN=mtk_...    # or --token
          meshctl token create --role read --name grafana
          meshctl token list
          meshctl token revoke grafana
        """,
        subcommands: [Bootstrap.self, Create.self, List.self, Revoke.self])

    static func created(_ t: TokenCreated) -> String {
        "token \(t.name) (role \(t.role), committed at index \(t.index)); its secret, shown only now:\n\(t.secret)\n"
    }

    struct Bootstrap: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make the first admin token of a mesh that has none, and print its secret once.",
            discussion: """
            Refused once the mesh has a token. Keep the secret: the mesh stores only its
            hash.
            Example:
              export MESH_TOKEN=$(meshctl --json token bootstrap | jq -r .secret)
            """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "The token's name.") var name: String = "bootstrap"
        func run() async throws {
            let body = TokenBootstrapRequest(name: name)
            try await global.show(TokenCreated.self, { c throws(ClientError) in try await c.post("/v1/tokens/bootstrap", body: body) },
                                  human: { TokenCommand.created($0) })
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a token with a role, and print its secret once.",
                                                        discussion: "Example:\n  meshctl token create --role operate --name ci")
        @OptionGroup var global: GlobalOptions
        @Option(help: "read, operate or admin.") var role: String
        @Option(help: "The token's name (letters, digits, '.', '_', '-').") var name: String
        func run() async throws {
            let body = TokenCreateRequest(name: name, role: role)
            try await global.show(TokenCreated.self, { c throws(ClientError) in try await c.post("/v1/tokens", body: body) },
                                  human: { TokenCommand.created($0) })
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List the tokens (names and roles; never secrets).",
                                                        discussion: "Example:\n  meshctl token list")
        @OptionGroup var global: GlobalOptions
        func run() async throws {
            try await global.show([TokenInfo].self, { c throws(ClientError) in try await c.get("/v1/tokens") }, view: Views.tokens)
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token: every agent refuses it once its replica applies the revocation.",
                                                        discussion: "Example:\n  meshctl token revoke grafana")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The token's name.") var name: String
        func run() async throws {
            let path = "/v1/tokens/" + Var.escape(name)
            try await global.show(CommandResult.self, { c throws(ClientError) in try await c.delete(path) },
                                  human: { "revoked \(name) (committed at index \($0.index))\n" })
        }
    }
}
