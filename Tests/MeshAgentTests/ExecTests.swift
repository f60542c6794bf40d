@testable import MeshAgent
import Foundation
import Hummingbird
import Logging
import MeshAPI
import Testing

/// The pure pieces of `meshctl exec`: the output buffer between pipe and reader, the input
/// checks, the choice of fan-out targets, the role of the routes; and the refusals of the
/// node's exec service that need no running process.
struct ExecTests {
    // MARK: ExecOutputBuffer

    @Test func aReaderAcknowledgesByOffsetAndGetsWhatFollows() {
        var b = ExecOutputBuffer(maxKeptBytes: 100, maxHeldBytes: 8)
        b.append(Array("hello ".utf8))
        var r = b.read(from: 0, maxBytes: 4, final: false)
        #expect(r.bytes == Array("hell".utf8) && r.next == 4)
        b.acknowledge(upTo: r.next)
        #expect(b.start == 4 && b.held == Array("o ".utf8) && !b.isFull)
        b.append(Array("world!".utf8))
        #expect(b.isFull && b.end == 12)
        // An offset already acknowledged answers from the oldest byte held; one past the end, nothing.
        r = b.read(from: 0, maxBytes: 100, final: false)
        #expect(r.bytes == Array("o world!".utf8) && r.next == 12)
        #expect(b.read(from: 50, maxBytes: 100, final: false) == ([], 12))
        b.acknowledge(upTo: 50)
        #expect(b.start == 12 && b.held.isEmpty)
    }

    @Test func outputPastTheLimitIsDroppedAndCounted() {
        var b = ExecOutputBuffer(maxKeptBytes: 5, maxHeldBytes: 100)
        b.append(Array("abc".utf8))
        b.append(Array("defgh".utf8))
        #expect(b.held == Array("abcde".utf8) && b.dropped == 3 && b.truncated)
        b.acknowledge(upTo: 5)
        b.append(Array("xyz".utf8))
        #expect(b.held.isEmpty && b.dropped == 6 && b.end == 5)
    }

    @Test func aCharacterCutByARead() {
        var b = ExecOutputBuffer(maxKeptBytes: 100, maxHeldBytes: 100)
        let euro = Array("€".utf8)           // 3 bytes
        b.append([UInt8(ascii: "a")] + euro.prefix(2))
        // Not all of it yet: held back while the stream runs, given as it is at the end.
        #expect(b.read(from: 0, maxBytes: 10, final: false) == ([UInt8(ascii: "a")], 1))
        #expect(b.read(from: 0, maxBytes: 10, final: true).next == 3)
        b.append([euro[2]])
        #expect(b.read(from: 1, maxBytes: 10, final: false) == (euro, 4))
        // A limit that cuts a character keeps it for the next read.
        #expect(b.read(from: 0, maxBytes: 2, final: true) == ([UInt8(ascii: "a")], 1))
        // Bytes that are no UTF-8 at all are not held back.
        #expect(ExecOutputBuffer.completeUTF8Length([0x80, 0x80, 0x80, 0x80, 0x80][...]) == 5)
        #expect(ExecOutputBuffer.completeUTF8Length(Array("ab".utf8)[...]) == 2)
        #expect(ExecOutputBuffer.completeUTF8Length([0xF0, 0x9F, 0x98][...]) == 0)
        #expect(ExecOutputBuffer.completeUTF8Length([0xF0, 0x9F, 0x98, 0x80][...]) == 4)
    }

    // MARK: Input checks

    @Test func commandsAndTimeoutsOutsideTheLimitsAreRefused() throws {
        #expect(try ExecLimits.check(command: ["uptime"], timeoutSeconds: nil) == AgentLimits.defaultExecTimeoutSeconds)
        #expect(try ExecLimits.check(command: ["ls"], timeoutSeconds: nil, defaultTimeoutSeconds: 10) == 10)
        #expect(try ExecLimits.check(command: ["ls"], timeoutSeconds: AgentLimits.maxExecTimeoutSeconds) == AgentLimits.maxExecTimeoutSeconds)
        func refusal(_ command: [String], _ timeout: Int? = nil) -> ExecRefusal? {
            do throws(ExecRefusal) { _ = try ExecLimits.check(command: command, timeoutSeconds: timeout); return nil } catch { return error }
        }
        #expect(refusal([])?.reason == "bad_request")
        #expect(refusal([""])?.reason == "bad_request")
        #expect(refusal(["echo", String(repeating: "x", count: AgentLimits.maxExecCommandBytes)])?.description.contains("at most 8192") == true)
        #expect(refusal(["echo", "a\u{0}b"])?.reason == "bad_request")
        #expect(refusal(["ls"], 0)?.description.contains("1-3600") == true)
        #expect(refusal(["ls"], AgentLimits.maxExecTimeoutSeconds + 1) != nil)
        #expect(try ExecLimits.tag("zone=eu") == ("zone", "eu"))
        #expect(try ExecLimits.tag("k=") == ("k", ""))
        #expect(throws: ExecRefusal.self) { try ExecLimits.tag("=eu") }
        #expect(throws: ExecRefusal.self) { try ExecLimits.tag("zone") }
    }

    @Test func anEventKeepsAShortCommandWholeAndCutsALongOne() {
        #expect(ExecLimits.eventText(["sh", "-c", "echo hi"]) == "sh -c 'echo hi'")
        let long = ExecLimits.eventText(["echo", String(repeating: "é", count: 400)])
        #expect(long.utf8.count <= AgentLimits.execEventCommandBytes && long.hasSuffix("..."))
    }

    // MARK: Fan-out targets

    @Test func aFanOutAsksLiveMembersWithTheTagAndListsDeadOnesUnasked() {
        func member(_ name: String, _ status: String, _ tags: [String: String]) -> MemberInfo {
            MemberInfo(name: name, id: String(repeating: "0", count: 64), address: "", addresses: [], status: status, incarnation: 1,
                       role: "member", tags: tags, apiAddress: nil, rttMs: nil, coordinate: nil, isSelf: false)
        }
        let members = [member("c", "alive", ["zone": "eu"]), member("a", "suspect", ["zone": "eu"]), member("b", "dead", ["zone": "eu"]),
                       member("d", "left", ["zone": "eu"]), member("e", "alive", ["zone": "us"])]
        let all = ExecFanout.select(members, tag: nil)
        #expect(all.ask == ["a", "c", "e"] && all.unreachable.map(\.name) == ["b"])
        let eu = ExecFanout.select(members, tag: ("zone", "eu"))
        #expect(eu.ask == ["a", "c"] && eu.unreachable.map(\.name) == ["b"])
        #expect(ExecFanout.select(members, tag: ("zone", "mars")).ask.isEmpty)
    }

    // MARK: Roles

    @Test func execAndAttachNeedOperateWhateverTheMethod() {
        for (m, path) in [(HTTPRequest.Method.post, "/v1/exec"), (.get, "/v1/exec/abc"), (.delete, "/v1/exec/abc"),
                          (.post, "/v1/exec/fanout"), (.post, "/v1/attach/web.0"), (.post, "/v1/attach/web.0/stdin")] {
            #expect(APIAccess.requiredRole(method: m, path: path) == .operate, "\(m) \(path)")
        }
        #expect(APIAccess.requiredRole(method: .options, path: "/v1/exec") == .admin)
        #expect(APIAccess.requiredRole(method: .get, path: "/v1/executive") == .read)
    }

    @Test func refusalsMapToTheAPIsStatuses() {
        #expect(APIRoutes.failure(.badRequest("x")).status == .badRequest)
        #expect(APIRoutes.failure(.commandNotFound("x")).status == .badRequest)
        #expect(APIRoutes.failure(.tooMany(limit: 8)).status == .tooManyRequests)
        #expect(APIRoutes.failure(.tooMany(limit: 8)).body.error == "too_many_requests")
        #expect(APIRoutes.failure(.unknownSession("x")).status == .notFound)
        #expect(APIRoutes.failure(.noStdin("x")).status == .conflict)
    }

    // MARK: The node's service, refusing

    @Test func theServiceRefusesWhatItCannotRunAndCountsIt() async throws {
        let dir = NSTemporaryDirectory() + "exec-tests-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let supervisor = try SupervisorService(dataDirectory: dir, recovery: .adopt, nodeName: "n0", logger: Logger(label: "test"))
        let exec = ExecService(nodeName: "n0", supervisor: supervisor, record: { _, _ in })
        func refusal(_ reply: NodeReply) -> String? {
            if case let .execRefused(r) = reply { return r.reason }
            return nil
        }
        #expect(refusal(await exec.start(ExecStart(command: [], instance: nil, timeoutSeconds: 5, requester: [:]))) == "bad_request")
        #expect(refusal(await exec.start(ExecStart(command: ["no-such-program-here"], instance: nil, timeoutSeconds: 5, requester: [:])))
            == "command_not_found")
        #expect(refusal(await exec.start(ExecStart(command: ["true"], instance: "web.0", timeoutSeconds: 5, requester: [:])))
            == "unknown_instance")
        #expect(refusal(await exec.poll(ExecPoll(session: "nope", stdout: 0, stderr: 0))) == "unknown_session")
        #expect(refusal(await exec.cancel("nope")) == "unknown_session")
        #expect(await exec.runningCount == 0)
        let metrics = exec.counters.metricsText(running: 0)
        #expect(metrics.contains(#"meshd_exec_refused_total{reason="unknown_session"} 2"#), "\(metrics)")
        #expect(metrics.contains(#"meshd_exec_refused_total{reason="command_not_found"} 1"#))
        #expect(metrics.contains("meshd_exec_started_total 0"))
    }

    @Test func aCommandPastTheLimitOfCommandsAtOnceIsRefused() async throws {
        let dir = NSTemporaryDirectory() + "exec-tests-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let supervisor = try SupervisorService(dataDirectory: dir, recovery: .adopt, nodeName: "n0", logger: Logger(label: "test"))
        let exec = ExecService(nodeName: "n0", supervisor: supervisor, record: { _, _ in })
        let sleeper = ExecStart(command: ["sleep", "30"], instance: nil, timeoutSeconds: 60, requester: [:])
        var sessions: [String] = []
        for _ in 0 ..< AgentLimits.maxConcurrentExecs {
            guard case let .execStarted(session) = await exec.start(sleeper) else { Issue.record("a start under the limit was refused"); break }
            sessions.append(session)
        }
        // Whatever happens below, nothing is left running.
        defer { Task { await exec.stopAll() } }
        #expect(sessions.count == AgentLimits.maxConcurrentExecs && Set(sessions).count == sessions.count)
        #expect(await exec.runningCount == AgentLimits.maxConcurrentExecs)
        guard case let .execRefused(refusal) = await exec.start(sleeper) else { Issue.record("the ninth start ran"); return }
        #expect(refusal == .tooMany(limit: AgentLimits.maxConcurrentExecs))
        #expect(APIRoutes.failure(refusal).status == .tooManyRequests)
        await exec.stopAll()
        // Once stopping, nothing new starts.
        guard case .execRefused = await exec.start(sleeper) else { Issue.record("a start after stopAll ran"); return }
        let metrics = exec.counters.metricsText(running: 0)
        #expect(metrics.contains("meshd_exec_started_total \(AgentLimits.maxConcurrentExecs)"), "\(metrics)")
        #expect(metrics.contains(#"meshd_exec_refused_total{reason="too_many_execs"} 1"#))
    }
}
