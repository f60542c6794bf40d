import Foundation
@testable import Supervisor
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Agent restarts: a new supervisor on the same state folder adopts or stops what runs.
@Suite(.serialized) struct RecoveryTests {
    @Test func aRestartedAgentAdoptsRunningInstancesWithoutDuplicating() async throws {
        try await withSupervisor { first, _, dir in
            let id: InstanceID = "keep.0"
            let pid = try await first.start(id, .shell("echo one; read line < /dev/null; sleep 0.1; trap 'echo bye; exit 0' TERM; echo two; while :; do sleep 0.05; done"))
            _ = try await eventually("two") { first.tail(id, stream: .stdout, lines: 1) == ["two"] ? true : nil }
            let mode = try FileManager.default.attributesOfItem(atPath: dir.path + "/state/supervisor.json")[.posixPermissions] as! Int
            #expect(mode == 0o600)
            await first.detach()                        // the agent goes away, the process stays

            let second = try Supervisor(settings: first.settings)
            let events = EventRecorder(second)
            defer { events.cancel() }
            let adopted = try await second.recover()
            #expect(adopted == [id])
            try await events.wait(for: id, .adopted(pid: pid))
            #expect(events.kinds(id) == [.adopted(pid: pid)])
            let infos = await second.list()
            #expect(infos.count == 1 && infos[0].state == .running(pid: pid) && infos[0].adopted)
            #expect(ProcFS.groupMembers(pid).contains(pid))
            // Starting it again is refused: it is the same instance, not a second copy.
            await #expect(throws: SupervisorError.alreadyRunning(id)) { try await second.start(id, .shell("true")) }

            // Its output still reaches the log through the reopened FIFO.
            let status = try await second.stop(id, gracePeriod: .seconds(5))
            #expect(status == .unknown)
            _ = try await eventually("bye") { second.tail(id, stream: .stdout, lines: 1) == ["bye"] ? true : nil }
            _ = try await eventually("group empty") { ProcFS.groupMembers(pid).isEmpty ? true : nil }
        }
    }

    /// `ps` shows when the process started, not when this agent found it.
    @Test func anAdoptedInstanceKeepsItsProcessStartTime() async throws {
        try await withSupervisor { first, _, _ in
            let id: InstanceID = "since.0"
            let before = UInt64(Date().timeIntervalSince1970 * 1000)
            _ = try await first.start(id, .shell("exec sleep 1000"))
            let after = UInt64(Date().timeIntervalSince1970 * 1000)
            let started = try #require(await first.info(id)?.processStartedAtMilliseconds)
            // Boot time is whole seconds and ticks are 10 ms: up to about 1 s early.
            #expect(started + 1500 >= before && started <= after + 500, "\(started) not in [\(before), \(after)]")
            await first.detach()
            let second = try Supervisor(settings: first.settings)
            defer { Task { await second.stopAll() } }
            #expect(try await second.recover() == [id])
            #expect(await second.info(id)?.processStartedAtMilliseconds == started)
            _ = try await second.stop(id, gracePeriod: .seconds(5))
            #expect(await second.info(id)?.processStartedAtMilliseconds == nil)
        }
    }

    @Test func recoveryCanStopInsteadOfAdopting() async throws {
        try await withSupervisor { first, _, _ in
            let id: InstanceID = "drop.0"
            let pid = try await first.start(id, .shell("exec sleep 1000"))
            await first.detach()
            var settings = first.settings
            settings.onRecovery = .stop
            let second = try Supervisor(settings: settings)
            let events = EventRecorder(second)
            defer { events.cancel() }
            try await second.recover()
            try await events.wait(for: id, "stopped", isStopped)
            _ = try await eventually("gone") { ProcFS.groupMembers(pid).isEmpty ? true : nil }
        }
    }

    @Test func aReusedPidIsNotMistakenForTheInstance() async throws {
        try await withSupervisor { sup, events, dir in
            // A state file naming a live process (this test runner) with another start time:
            // as if our instance died and its pid went to someone else.
            let me = getpid()
            let entry = StateFile.Entry(id: "gone.0", spec: .shell("true"), pid: me,
                                        startTime: (ProcFS.facts(pid: me)?.startTime ?? 0) + 1)
            try StateFile(path: dir.path + "/state/supervisor.json").save([entry])
            let adopted = try await sup.recover()
            #expect(adopted.isEmpty)
            try await events.wait(for: "gone.0", .exited(.unknown))
            #expect(events.kinds("gone.0") == [.exited(.unknown)])
            #expect(kill(me, 0) == 0)                   // still alive: not signalled
        }
    }

    @Test func anAdoptedInstanceThatDiesIsRestartedByPolicy() async throws {
        try await withSupervisor { first, _, _ in
            let id: InstanceID = "phoenix.0"
            let pid = try await first.start(id, .shell("exec sleep 1000", restartPolicy: .always))
            await first.detach()
            let second = try Supervisor(settings: first.settings)
            let events = EventRecorder(second)
            defer { events.cancel() }
            try await second.recover()
            kill(pid, SIGKILL)
            try await events.wait(for: id, "restart", isStarted)
            #expect(events.kinds(id).prefix(3) == [.adopted(pid: pid), .exited(.unknown), .restarting(attempt: 1, delay: .milliseconds(20))])
            await second.stopAll()
        }
    }

    @Test func anUnreadableStateFileIsAnErrorAndTheSupervisorStillWorks() async throws {
        try await withSupervisor { sup, events, dir in
            try "{not json".write(toFile: dir.path + "/state/supervisor.json", atomically: true, encoding: .utf8)
            do {
                try await sup.recover()
                Issue.record("recovered from garbage")
            } catch let error as SupervisorError {
                guard case .stateFile = error else { Issue.record("wrong error \(error)"); return }
                #expect(error.description.contains("move it aside"))
            }
            try await sup.start("fine.0", .shell("exit 0"))
            try await events.wait(for: "fine.0", "exit", isExit)
            #expect(await sup.runningProcesses().isEmpty)
        }
    }
}
