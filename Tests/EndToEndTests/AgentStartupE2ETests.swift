import Foundation
import Testing

@Suite(.serialized) struct AgentStartupE2ETests {
    @Test func startsWritesIdentityPrintsIdAndAddressStopsCleanlyOnSIGTERM() async throws {
        let agent = try AgentProcess(arguments: ["--bind", "127.0.0.1:0", "--api", "127.0.0.1:0", "--name", "e2e-one"])
        defer { agent.removeData() }
        try await agent.waitForOutput { $0.contains("mesh listening on udp+tcp 127.0.0.1:") }
        let nodeLine = try #require(agent.stdout.split(separator: "\n").first { $0.hasPrefix("meshd: node ") })
        #expect(nodeLine.contains("name e2e-one (new identity)"))
        let id = nodeLine.split(separator: " ")[2]
        #expect(id.count == 16 && id.allSatisfy(\.isHexDigit))

        let attrs = try FileManager.default.attributesOfItem(atPath: agent.dataDir + "/node.key")
        #expect((attrs[.posixPermissions] as! NSNumber).intValue == 0o600)
        #expect(try await agent.stop(signal: SIGTERM) == 0)

        // Restarted on the same data directory it keeps its identity.
        let again = try AgentProcess(arguments: ["--bind", "127.0.0.1:0", "--api", "127.0.0.1:0", "--name", "e2e-one"],
                                     dataDir: agent.dataDir)
        try await again.waitForOutput { $0.contains("mesh listening") }
        #expect(again.stdout.contains("meshd: node \(id) name e2e-one\n"))
        #expect(try await again.stop(signal: SIGINT) == 0)
    }

    @Test func badConfigurationStopsTheAgentWithTheKeyNamed() async throws {
        let agent = try AgentProcess(arguments: ["--bind", "127.0.0.1:99999"])
        defer { agent.removeData() }
        agent.process.waitUntilExit()
        #expect(agent.process.terminationStatus == 2)
        #expect(agent.stderr.contains("bind = 127.0.0.1:99999 (from flag --bind)"))
    }

    @Test func identityReadableByOthersStopsTheAgent() async throws {
        let first = try AgentProcess(arguments: ["--bind", "127.0.0.1:0"])
        defer { first.removeData() }
        try await first.waitForOutput { $0.contains("mesh listening") }
        try await first.stop()
        chmod(first.dataDir + "/node.key", 0o640)
        let second = try AgentProcess(arguments: ["--bind", "127.0.0.1:0"], dataDir: first.dataDir)
        second.process.waitUntilExit()
        #expect(second.process.terminationStatus != 0)
        #expect(second.stderr.contains("node.key has mode 640"))
    }

    @Test func meshctlKeygenPrintsA32ByteBase64Key() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: AgentProcess.binary("meshctl"))
        p.arguments = ["keygen"]
        let out = Pipe(); p.standardOutput = out
        try p.run(); p.waitUntilExit()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(p.terminationStatus == 0)
        #expect(Data(base64Encoded: text)?.count == 32)
    }
}
