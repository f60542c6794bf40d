import Foundation
@testable import Supervisor
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Bad input is an error and an event; the supervisor keeps working afterwards.
@Suite(.serialized) struct BadInputTests {
    func expectStillWorks(_ sup: Supervisor, _ events: EventRecorder) async throws {
        let id: InstanceID = "after.0"
        try await sup.start(id, .shell("exit 0"))
        try await events.wait(for: id, "exit", isExit)
    }

    @Test func missingCommand() async throws {
        try await withSupervisor { sup, events, _ in
            let id: InstanceID = "nocmd.0"
            await #expect(throws: SupervisorError.commandNotFound("no-such-command-xyz")) {
                try await sup.start(id, ProcessSpec(command: "no-such-command-xyz"))
            }
            await #expect(throws: SupervisorError.commandNotFound("/nope/bin/tool")) {
                try await sup.start("nocmd.1", ProcessSpec(command: "/nope/bin/tool"))
            }
            try await events.wait(for: id, .startFailed(.commandNotFound("no-such-command-xyz")))
            #expect(events.kinds(id) == [.startFailed(.commandNotFound("no-such-command-xyz"))])
            guard case .failed = await sup.info(id)?.state else { Issue.record("not failed"); return }
            try await expectStillWorks(sup, events)
        }
    }

    @Test func missingWorkingDirectory() async throws {
        try await withSupervisor { sup, events, _ in
            var spec = ProcessSpec.shell("true"); spec.workingDirectory = "/nonexistent/dir"
            await #expect(throws: SupervisorError.workingDirectoryMissing("/nonexistent/dir")) { try await sup.start("nowd.0", spec) }
            try await events.wait(for: "nowd.0", .startFailed(.workingDirectoryMissing("/nonexistent/dir")))
            #expect(events.kinds("nowd.0") == [.startFailed(.workingDirectoryMissing("/nonexistent/dir"))])
            try await expectStillWorks(sup, events)
        }
    }

    @Test func unknownUser() async throws {
        try await withSupervisor { sup, events, _ in
            var spec = ProcessSpec.shell("true"); spec.user = "no-such-user-xyz"
            await #expect(throws: SupervisorError.unknownUser("no-such-user-xyz")) { try await sup.start("nouser.0", spec) }
            try await expectStillWorks(sup, events)
        }
    }

    @Test func unwritableLogDirectory() async throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        _ = FileManager.default.createFile(atPath: dir.path + "/file", contents: Data("x".utf8))
        // A log folder under a regular file cannot be created, even by root.
        try await withSupervisor({ $0.logDirectory = dir.path + "/file/logs" }) { sup, events, _ in
            let id: InstanceID = "nolog.0"
            do {
                try await sup.start(id, .shell("true"))
                Issue.record("started without a log folder")
            } catch let error as SupervisorError {
                guard case .logDirectoryUnwritable = error else { Issue.record("wrong error \(error)"); return }
                #expect(error.description.contains("check its permissions"))
            }
            try await events.wait(for: id, "startFailed") { if case .startFailed(.logDirectoryUnwritable) = $0 { true } else { false } }
        }
    }

    @Test(.enabled(if: getuid() == 0, "mounting a small tmpfs needs root"))
    func fullDiskIsAnEventAndTheProcessIsNotBlocked() async throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        let mountPoint = dir.path + "/small"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        guard mount("tmpfs", mountPoint, "tmpfs", 0, "size=128k") == 0 else {
            Issue.record("cannot mount a small tmpfs at \(mountPoint): errno \(errno)"); return
        }
        defer { umount(mountPoint) }
        try await withSupervisor({ $0.logDirectory = mountPoint; $0.logMaxFileBytes = 1 << 20 }) { sup, events, _ in
            let id: InstanceID = "full.0"
            try await sup.start(id, .shell("seq 1 200000; echo done >&2"))     // ~1.3 MB into 128 KiB
            try await events.wait(for: id, "log write failure") { if case .logWriteFailed(.stdout, _) = $0 { true } else { false } }
            let exit = try await events.wait(for: id, timeout: .seconds(30), "exit", isExit)
            #expect(exit == .exited(.exited(code: 0)))
            try await expectStillWorks(sup, events)
        }
    }
}
