import Foundation
import MeshAPI
import Testing

/// meshctl as a user runs it: follow modes ended by Ctrl-C, colour, `--json` everywhere.
@Suite(.serialized) struct MeshctlE2ETests {
    /// Starts `meshctl ARGS` with stdout and stderr in pipes; the caller signals it.
    func start(_ arguments: [String], environment: [String: String] = [:]) throws -> (Process, Pipe, Pipe) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: AgentProcess.binary("meshctl"))
        p.arguments = arguments
        p.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("MESH_") }.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        return (p, out, err)
    }

    @Test func followModesEndOnCtrlCWithStatus130AndNoTrace() async throws {
        let cluster = try await MeshCluster(count: 1)
        defer { cluster.shutdown() }
        let api = try #require(cluster.agents[0].apiAddress)
        for arguments in [["--addr", api, "events", "-f"], ["--addr", api, "--json", "events", "-f"]] {
            let (p, out, err) = try start(arguments)
            // Wait (with a deadline) until it printed the agent's first events: it follows.
            let deadline = ContinuousClock.now + .seconds(15)
            var seen = Data()
            while seen.isEmpty, ContinuousClock.now < deadline {
                seen = out.fileHandleForReading.availableData
            }
            #expect(!seen.isEmpty, "\(arguments): nothing printed")
            kill(p.processIdentifier, SIGINT)
            p.waitUntilExit()
            let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(p.terminationReason == .exit && p.terminationStatus == 130, "\(arguments): \(p.terminationReason) \(p.terminationStatus)")
            #expect(stderr.isEmpty, "\(arguments): \(stderr)")
            let text = String(decoding: seen, as: UTF8.self)
            // Never colour into a pipe.
            #expect(!text.contains("\u{1B}["), "\(arguments): \(text)")
            if arguments.contains("--json") {
                let first = try #require(text.split(separator: "\n").first)
                #expect((try? JSONDecoder().decode(EventInfo.self, from: Data(first.utf8))) != nil, "\(first)")
            }
        }
    }

    @Test func completionScriptsNameEveryCommandAndBashsParses() async throws {
        for shell in ["bash", "zsh", "fish"] {
            let r = try await meshctl(["--generate-completion-script", shell])
            #expect(r.status == 0 && r.stderr.isEmpty, "\(shell): \(r.stderr)")
            for command in ["members", "events", "deploy", "token"] { #expect(r.stdout.contains(command), "\(shell): \(command)") }
            guard shell == "bash" else { continue }
            let file = NSTemporaryDirectory() + "meshctl-completion-\(UUID().uuidString).bash"
            try Data(r.stdout.utf8).write(to: URL(fileURLWithPath: file))
            defer { try? FileManager.default.removeItem(atPath: file) }
            let check = Process()
            check.executableURL = URL(fileURLWithPath: "/bin/bash")
            check.arguments = ["-n", file]
            try check.run()
            check.waitUntilExit()
            #expect(check.terminationStatus == 0, "bash -n on the bash completion script")
        }
    }

    @Test func everyPrintingCommandAnswersOneJSONDocument() async throws {
        let cluster = try await MeshCluster(count: 1)
        defer { cluster.shutdown() }
        let api = try #require(cluster.agents[0].apiAddress)
        for command in [["members"], ["status"], ["events", "--limit", "5"], ["var", "ls"], ["ps"], ["local", "ps"], ["stats"],
                        ["keys", "list"], ["token", "list"], ["keygen"], ["rtt", "n0"]] {
            let r = try await meshctl(["--addr", api, "--json"] + command)
            #expect(r.status == 0, "\(command): \(r.stderr)")
            #expect((try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) != nil, "\(command): \(r.stdout.prefix(200))")
        }
    }
}
