import Foundation
@testable import Supervisor
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// An instance's stdin FIFO (`openStdin`, `writeStdin`) and `CommandRun` (what `meshctl
/// exec` runs), on real processes.
@Suite(.serialized) struct StdinAndCommandRunTests {
    @Test func linesWrittenToAnInstancesStdinReachItAndOthersReadDevNull() async throws {
        try await withSupervisor { sup, events, _ in
            let id: InstanceID = "cat.0"
            var spec = ProcessSpec(command: "/bin/cat", restartPolicy: .never)
            spec.openStdin = true
            try await sup.start(id, spec)
            try await sup.writeStdin(id, Array("hello\n".utf8))
            try await sup.writeStdin(id, Array("again\n".utf8))
            _ = try await eventually("the lines echoed; saw \(sup.tail(id, stream: .stdout, lines: 5))") {
                sup.tail(id, stream: .stdout, lines: 5) == ["hello", "again"] ? true : nil
            }
            await #expect(throws: SupervisorError.stdinUnavailable(id, reason: "5000 bytes at once; at most 4096")) {
                try await sup.writeStdin(id, [UInt8](repeating: 0x41, count: 5000))
            }
            try await sup.stop(id)
            await #expect(throws: SupervisorError.stdinUnavailable(id, reason: "it is not running")) {
                try await sup.writeStdin(id, Array("late\n".utf8))
            }

            // Without openStdin it reads /dev/null: cat ends at once, and writing is refused.
            let plain: InstanceID = "plain.0"
            try await sup.start(plain, .shell("cat; echo eof; exec sleep 1000"))
            _ = try await eventually("eof") { sup.tail(plain, stream: .stdout, lines: 1) == ["eof"] ? true : nil }
            await #expect(throws: SupervisorError.noStdin(plain)) { try await sup.writeStdin(plain, Array("x\n".utf8)) }
            await #expect(throws: SupervisorError.unknownInstance("nosuch.0")) { try await sup.writeStdin("nosuch.0", [1]) }
            _ = events
        }
    }

    @Test func aCommandRunsInItsOwnGroupAndHandsOverItsOutput() async throws {
        let seen = Mutex<(pid: Int32, group: Int32, out: [UInt8], err: [UInt8])>((0, 0, [], []))
        let status = try await CommandRun.run(.shell("echo out; echo err >&2; exit 5"), started: { pid in
            seen.withLock { $0.pid = pid; $0.group = getpgid(pid) }
        }, output: { stream, bytes in
            seen.withLock { if stream == .stdout { $0.out += bytes } else { $0.err += bytes } }
        })
        #expect(status == .exited(code: 5))
        let s = seen.withLock { $0 }
        #expect(s.pid > 0 && s.group == s.pid, "its own process group")
        #expect(String(decoding: s.out, as: UTF8.self) == "out\n" && String(decoding: s.err, as: UTF8.self) == "err\n")

        // The environment and working directory of a spec apply, as for instances.
        var spec = ProcessSpec.shell("pwd; echo $GREETING")
        spec.workingDirectory = "/"
        spec.environment = ["GREETING": "hi"]
        let out = Mutex<[UInt8]>([])
        #expect(try await CommandRun.run(spec, started: { _ in }, output: { _, b in out.withLock { $0 += b } }) == .exited(code: 0))
        #expect(String(decoding: out.withLock { $0 }, as: UTF8.self) == "/\nhi\n")

        await #expect(throws: SupervisorError.commandNotFound("no-such-program-here")) {
            _ = try await CommandRun.run(ProcessSpec(command: "no-such-program-here"), started: { _ in }, output: { _, _ in })
        }
    }

    @Test func killingTheGroupEndsACommandAndWhatItForked() async throws {
        let pid = Mutex<Int32>(0)
        let status = try await CommandRun.run(.shell("sleep 1000 & echo up; wait"), started: { p in pid.withLock { $0 = p } },
                                              output: { _, bytes in
            // Once it said it is up, end the group as exec's timeout does.
            if String(decoding: bytes, as: UTF8.self).contains("up") { kill(-pid.withLock { $0 }, SIGKILL) }
        })
        #expect(status == .signaled(signal: SIGKILL))
        _ = try await eventually("group empty; left: \(ProcFS.groupMembers(pid.withLock { $0 }))") {
            ProcFS.groupMembers(pid.withLock { $0 }).isEmpty ? true : nil
        }
    }
}
