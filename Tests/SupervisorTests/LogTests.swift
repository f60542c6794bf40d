import Foundation
@testable import Supervisor
import Testing

/// Output capture: rotation bounds, tail across files, follow across rotation.
@Suite(.serialized) struct LogTests {
    @Test func floodingStdoutStaysWithinTheRotationBound() async throws {
        let maxBytes = 64 << 10, maxFiles = 3
        try await withSupervisor({ $0.logMaxFileBytes = maxBytes; $0.logMaxFiles = maxFiles }) { sup, events, _ in
            let id: InstanceID = "flood.0"
            // 2 MB of numbered lines, far more than the 192 KiB bound.
            try await sup.start(id, .shell("seq 1 300000"))
            try await events.wait(for: id, timeout: .seconds(30), "exit", isExit)
            let dir = sup.logDirectory(of: id)
            let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("stdout.log") }.sorted()
            #expect(files == ["stdout.log", "stdout.log.1", "stdout.log.2"])
            var total = 0
            for f in files {
                let size = try FileManager.default.attributesOfItem(atPath: "\(dir)/\(f)")[.size] as! Int
                #expect(size <= maxBytes)
                total += size
            }
            #expect(total <= maxBytes * maxFiles)
            // Rotation splits after a newline: the kept files hold whole, consecutive lines.
            let lines = sup.tail(id, stream: .stdout, lines: 20_000)
            #expect(lines.last == "300000")
            #expect(lines.count == 20_000)
            #expect(zip(lines, lines.dropFirst()).allSatisfy { Int($0)! + 1 == Int($1)! })
        }
    }

    @Test func followDeliversEverythingAcrossRotation() async throws {
        try await withSupervisor({ $0.logMaxFileBytes = 16 << 10; $0.logMaxFiles = 2 }) { sup, events, dir in
            let id: InstanceID = "follow.0"
            let go = dir.path + "/go"
            try await sup.start(id, .shell("echo before; while [ ! -f \(go) ]; do sleep 0.01; done; seq 1 20000"))
            _ = try await eventually("before") { sup.tail(id, stream: .stdout, lines: 1) == ["before"] ? true : nil }
            let stream = try await sup.follow(id, stream: .stdout, tailLines: 1)
            _ = FileManager.default.createFile(atPath: go, contents: nil)
            let expected = "before\n" + (1 ... 20000).map(String.init).joined(separator: "\n") + "\n"
            var received = [UInt8]()
            for await chunk in stream {
                received += chunk
                if received.count >= expected.utf8.count { break }
            }
            #expect(String(decoding: received, as: UTF8.self) == expected)
            try await events.wait(for: id, "exit", isExit)
        }
    }

    @Test func tailReadsAcrossRotatedFiles() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        let file = RotatingLogFile(path: dir.path + "/out.log", maxFileBytes: 10, maxFiles: 3)
        for line in ["aaaa", "bbbb", "cccc", "dddd", "eeee"] {
            let bytes = Array((line + "\n").utf8)
            #expect(bytes.withUnsafeBytes { file.write($0) } == nil)
        }
        // 5 bytes a line, 10 bytes a file: .2 = [aaaa bbbb], .1 = [cccc dddd], live = [eeee].
        #expect(LogTail.lines(base: dir.path + "/out.log", maxFiles: 3, count: 10) == ["aaaa", "bbbb", "cccc", "dddd", "eeee"])
        #expect(LogTail.lines(base: dir.path + "/out.log", maxFiles: 3, count: 2) == ["dddd", "eeee"])
        #expect(LogTail.tailBytes(base: dir.path + "/out.log", maxFiles: 3, count: 2) == Array("dddd\neeee\n".utf8))
        for line in ["ffff", "gggg"] {
            let bytes = Array((line + "\n").utf8)
            #expect(bytes.withUnsafeBytes { file.write($0) } == nil)
        }
        // gggg did not fit: the oldest file ([aaaa bbbb]) is gone.
        #expect(LogTail.lines(base: dir.path + "/out.log", maxFiles: 3, count: 10) == ["cccc", "dddd", "eeee", "ffff", "gggg"])
    }

    @Test func followEndsWhenTheInstanceIsRemoved() async throws {
        try await withSupervisor { sup, events, _ in
            let id: InstanceID = "brief.0"
            try await sup.start(id, .shell("echo a; echo b"))
            try await events.wait(for: id, "exit", isExit)
            let stream = try await sup.follow(id, stream: .stdout, tailLines: 5)
            try await sup.remove(id)
            var received = [UInt8]()
            for await chunk in stream { received += chunk }     // ends: the instance is gone
            #expect(String(decoding: received, as: UTF8.self) == "a\nb\n")
            await #expect(throws: SupervisorError.unknownInstance(id)) { try await sup.follow(id, stream: .stdout) }
            #expect(sup.tail(id, stream: .stdout, lines: 1) == ["b"])   // files stay on disk
        }
    }
}
