import Foundation
@testable import Supervisor
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Real processes through /bin/sh: exits, signals, stop escalation, process groups.
@Suite(.serialized) struct ProcessLifecycleTests {
    @Test func exitZeroIsReportedAndOutputKept() async throws {
        try await withSupervisor { sup, events, _ in
            let id: InstanceID = "ok.0"
            let pid = try await sup.start(id, .shell("echo hello; echo oops >&2; exit 0"))
            #expect(pid > 0)
            try await events.wait(for: id, "exit", isExit)
            #expect(events.kinds(id) == [.started(pid: pid), .exited(.exited(code: 0))])
            #expect(await sup.info(id)?.state == .exited(.exited(code: 0)))
            #expect(sup.tail(id, stream: .stdout, lines: 10) == ["hello"])
            #expect(sup.tail(id, stream: .stderr, lines: 10) == ["oops"])
        }
    }

    @Test func exitThreeIsReported() async throws {
        try await withSupervisor { sup, events, _ in
            let id: InstanceID = "three.0"
            try await sup.start(id, .shell("exit 3"))
            let kind = try await events.wait(for: id, "exit", isExit)
            #expect(kind == .exited(.exited(code: 3)))
        }
    }

    @Test func deathBySignalIsReported() async throws {
        try await withSupervisor { sup, events, _ in
            let id: InstanceID = "sig.0"
            try await sup.start(id, .shell("kill -KILL $$"))
            let kind = try await events.wait(for: id, "exit", isExit)
            #expect(kind == .exited(.signaled(signal: SIGKILL)))
        }
    }

    @Test func stopEndsAWellBehavedProcessWithSIGTERM() async throws {
        try await withSupervisor { sup, events, _ in
            let id: InstanceID = "term.0"
            try await sup.start(id, .shell("exec sleep 1000"))
            let status = try await sup.stop(id, gracePeriod: .seconds(5))
            #expect(status == .signaled(signal: SIGTERM))
            try await events.wait(for: id, .stopped(.signaled(signal: SIGTERM)))
        }
    }

    @Test func processIgnoringSIGTERMIsKilledAfterTheGracePeriod() async throws {
        try await withSupervisor { sup, events, _ in
            let id: InstanceID = "stubborn.0"
            let grace = Duration.milliseconds(300)
            let pid = try await sup.start(id, .shell("trap '' TERM; echo ready; while :; do sleep 0.05; done", stopGracePeriod: grace))
            _ = try await eventually("ready") { sup.tail(id, stream: .stdout, lines: 1) == ["ready"] ? true : nil }
            let began = ContinuousClock.now
            let status = try await sup.stop(id)
            let took = ContinuousClock.now - began
            #expect(status == .signaled(signal: SIGKILL))
            #expect(took >= grace)
            // The leader is gone when stop returns; the rest of its group has been sent
            // SIGKILL, which the kernel delivers asynchronously (seen still running on a
            // loaded machine), so its end is awaited with a deadline.
            _ = try await eventually("group gone") { ProcFS.groupMembers(pid).isEmpty ? true : nil }
            try await events.wait(for: id, .stopped(.signaled(signal: SIGKILL)))
        }
    }

    @Test func stopTakesTheWholeProcessGroup() async throws {
        try await withSupervisor { sup, _, _ in
            let id: InstanceID = "forks.0"
            let pid = try await sup.start(id, .shell("sleep 1000 & sleep 1000 & (sleep 1000 &) ; echo forked; wait"))
            let members = try await eventually("3 children") { () -> [Int32]? in
                let m = ProcFS.groupMembers(pid); return m.count >= 4 ? m : nil
            }
            #expect(members.contains(pid))
            try await sup.stop(id, gracePeriod: .seconds(5))
            _ = try await eventually("group empty; left: \(ProcFS.groupMembers(pid))") { ProcFS.groupMembers(pid).isEmpty ? true : nil }
        }
    }

    @Test func childrenLeftBehindByAnExitingLeaderAreKilled() async throws {
        try await withSupervisor { sup, events, _ in
            let id: InstanceID = "orphans.0"
            let pid = try await sup.start(id, .shell("sleep 1000 & sleep 1000 & exit 0"))
            try await events.wait(for: id, "exit", isExit)
            _ = try await eventually("group empty; left: \(ProcFS.groupMembers(pid))") { ProcFS.groupMembers(pid).isEmpty ? true : nil }
        }
    }

    @Test func environmentAndWorkingDirectoryAreApplied() async throws {
        try await withSupervisor { sup, events, dir in
            let id: InstanceID = "env.0"
            var spec = ProcessSpec.shell("echo \"$GREETING $(pwd)\"")
            spec.environment = ["GREETING": "hi"]
            spec.workingDirectory = dir.path
            try await sup.start(id, spec)
            try await events.wait(for: id, "exit", isExit)
            let real = URL(fileURLWithPath: dir.path).resolvingSymlinksInPath().path
            #expect(sup.tail(id, stream: .stdout, lines: 1) == ["hi \(real)"])
        }
    }

    @Test func startingARunningInstanceAgainIsRefused() async throws {
        try await withSupervisor { sup, _, _ in
            let id: InstanceID = "dup.0"
            try await sup.start(id, .shell("exec sleep 1000"))
            await #expect(throws: SupervisorError.alreadyRunning(id)) { try await sup.start(id, .shell("true")) }
        }
    }

    @Test(.enabled(if: getuid() == 0 && getpwnam("nobody") != nil, "needs root and a 'nobody' user"))
    func runsAsTheGivenUser() async throws {
        let nobody = try #require(getpwnam("nobody"))
        let uid = nobody.pointee.pw_uid
        try await withSupervisor { sup, events, _ in
            let id: InstanceID = "user.0"
            var spec = ProcessSpec(command: "/usr/bin/id", arguments: ["-u"], restartPolicy: .never)
            spec.user = "nobody"
            spec.workingDirectory = "/"
            try await sup.start(id, spec)
            try await events.wait(for: id, "exit", isExit)
            #expect(sup.tail(id, stream: .stdout, lines: 1) == ["\(uid)"])
        }
    }
}
