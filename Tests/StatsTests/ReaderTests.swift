import Foundation
@testable import Stats
import Testing

/// The reader on the real /proc, and on folders that lack files (containers, other kernels).
@Suite struct ReaderTests {
    @Test func readsTheRealProc() throws {
        let reader = StatsReader()
        let a = reader.node(monotonicNanoseconds: 0)
        let cpu = try #require(a.cpu)
        #expect(cpu.perCore.count >= 1)
        #expect(a.load != nil)
        let memory = try #require(a.memory)
        #expect(memory.totalBytes > 0)
        #expect(a.disk.map { $0.totalBytes > 0 } == true)
        #expect(a.network.contains { $0.interface == "lo" })
        #expect((a.uptimeSeconds ?? 0) > 0)
        let me = try #require(reader.process(getpid(), monotonicNanoseconds: 0))
        #expect(me.threads >= 1 && me.residentBytes > 1 << 20 && (me.openFiles ?? 0) >= 3)
        #expect(reader.process(Int32.max, monotonicNanoseconds: 0) == nil)
    }

    @Test func missingFilesGiveNilNotACrash() throws {
        let root = NSTemporaryDirectory() + "meshd-stats-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/proc/net", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/sys/class/thermal/thermal_zone0", withIntermediateDirectories: true)
        try "0.10 0.20 0.30 1/2 3\n".write(toFile: root + "/proc/loadavg", atomically: true, encoding: .utf8)
        try "garbage".write(toFile: root + "/proc/meminfo", atomically: true, encoding: .utf8)
        try "51000\n".write(toFile: root + "/sys/class/thermal/thermal_zone0/temp", atomically: true, encoding: .utf8)
        try "cpu-thermal\n".write(toFile: root + "/sys/class/thermal/thermal_zone0/type", atomically: true, encoding: .utf8)
        var settings = StatsSettings()
        settings.procRoot = root + "/proc"
        settings.sysRoot = root + "/sys"
        settings.diskPath = root + "/nonexistent"
        let s = StatsReader(settings: settings).node(monotonicNanoseconds: 0)
        #expect(s.cpu == nil && s.memory == nil && s.disk == nil && s.uptimeSeconds == nil && s.network.isEmpty)
        #expect(s.load == LoadAverage(one: 0.1, five: 0.2, fifteen: 0.3))
        #expect(s.temperatures == [Temperature(zone: "thermal_zone0", type: "cpu-thermal", celsius: 51)])
        #expect(s.throttled == nil, "no cooling device and no Pi firmware: unknown")
        // Statistics and exposition of an almost empty node still work.
        let stats = NodeStats(snapshot: s, previous: s)
        #expect(stats.summary == NodeSummary(cores: 0, freeCPUCores: nil, freeMemoryMB: nil, temperatureCelsius: 51))
        #expect(stats.summary.tags["temp_c"] == "51")
        #expect(NodeMetrics.render(node: stats).contains("meshd_node_temperature_celsius{zone=\"thermal_zone0\",type=\"cpu-thermal\"} 51"))
    }

    @Test func throttlingIsReadFromCPUCoolingDevicesOrThePiFirmware() throws {
        let root = NSTemporaryDirectory() + "meshd-stats-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        func put(_ path: String, _ text: String) throws {
            let full = root + "/sys/" + path
            try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: full, atomically: true, encoding: .utf8)
        }
        try put("class/thermal/cooling_device0/type", "Fan\n")
        try put("class/thermal/cooling_device0/cur_state", "3\n")          // a fan running is not throttling
        try put("class/thermal/cooling_device1/type", "cpufreq-cpu0\n")
        try put("class/thermal/cooling_device1/cur_state", "0\n")
        var settings = StatsSettings()
        settings.sysRoot = root + "/sys"
        #expect(StatsReader(settings: settings).throttled() == false)
        try put("class/thermal/cooling_device1/cur_state", "2\n")
        #expect(StatsReader(settings: settings).throttled() == true)
        // A Pi's firmware flags win: throttled since boot (bit 18) but not now.
        try put("devices/platform/soc/soc:firmware/get_throttled", "0x40000\n")
        #expect(StatsReader(settings: settings).throttled() == false)
        try put("devices/platform/soc/soc:firmware/get_throttled", "0x50005\n")
        #expect(StatsReader(settings: settings).throttled() == true)
        let summary = NodeSummary(cores: 4, freeCPUCores: 1, freeMemoryMB: 100, throttled: true)
        #expect(summary.tags["throttled"] == "1")
    }

    @Test func samplerGivesProcessCPU() async throws {
        let path = NSTemporaryDirectory() + "meshd-stats-\(UUID().uuidString.prefix(8)).db"
        defer { for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + s) } }
        let sampler = try StatsSampler(settings: StatsSettings(), databasePath: path)
        // A child that burns a fixed amount of CPU when told to, then says so and idles: the
        // test samples before and after, blocking on the child's pipe instead of polling.
        let burner = Process()
        burner.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        burner.arguments = ["python3", "-c", """
            import sys, time
            sys.stdin.read(1)
            x = 0
            for i in range(3_000_000): x += i
            print("done", flush=True)
            time.sleep(100)
            """]
        let go = Pipe(), out = Pipe()
        burner.standardInput = go
        burner.standardOutput = out
        try burner.run()
        let pid = burner.processIdentifier
        defer { kill(pid, SIGKILL); burner.waitUntilExit() }
        _ = await sampler.processes([pid])
        go.fileHandleForWriting.write(Data("g".utf8))
        let said = out.fileHandleForReading.availableData       // blocks until the child is done burning
        try #require(String(decoding: said, as: UTF8.self).contains("done"), "the burner exited early")
        let percent = await sampler.processes([pid, Int32.max])[pid]?.cpuPercent ?? 0
        #expect(percent >= 10)
        #expect(await sampler.processes([Int32.max]).isEmpty)
        var x = 0.0
        let first = try await sampler.sample()
        #expect(first.cpuUtilisation == nil)
        for i in 0 ..< 3_000_000 { x += Double(i).squareRoot() }     // let /proc/stat tick
        let second = try await sampler.sample()
        #expect(second.cpuUtilisation != nil)
        #expect(await sampler.summary?.cores == second.cores)
    }

    @Test func nodeStatsRoundTripThroughJSON() throws {
        let reader = StatsReader()
        let stats = NodeStats(snapshot: reader.node(monotonicNanoseconds: 1), previous: reader.node(monotonicNanoseconds: 0))
        let decoded = try JSONDecoder().decode(NodeStats.self, from: JSONEncoder().encode(stats))
        #expect(decoded == stats)
    }

    @Test func aProcessTreeSumsTheWrapperAndItsChildren() async throws {
        // Each child says "up" once it runs its own program (with memory of its own), so the
        // test reads the tree when both are there, without polling.
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/sh")
        let child = "python3 -c 'import time; print(\"up\", flush=True); time.sleep(100)'"
        shell.arguments = ["-c", "\(child) & \(child) & wait"]
        let out = Pipe()
        shell.standardOutput = out
        try shell.run()
        let root = shell.processIdentifier
        let reader = StatsReader()
        defer {
            // SIGKILL (the test runner's signal mask may be inherited): the children first,
            // found through the tree, then the shell.
            if let text = try? String(contentsOfFile: "/proc/\(root)/task/\(root)/children", encoding: .utf8) {
                for pid in text.split(separator: " ").compactMap({ Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }) {
                    kill(pid, SIGKILL)
                }
            }
            kill(root, SIGKILL)
            shell.waitUntilExit()
        }
        var said = ""
        while said.components(separatedBy: "up").count - 1 < 2 {
            let data = out.fileHandleForReading.availableData      // blocks until a child writes
            try #require(!data.isEmpty, "a child exited before it said up")
            said += String(decoding: data, as: UTF8.self)
        }
        let t = try #require(reader.processTree(root, monotonicNanoseconds: 0))
        let alone = try #require(reader.process(root, monotonicNanoseconds: 0))
        #expect(t.processes == 3)
        #expect(t.threads >= 3 && t.residentBytes > alone.residentBytes)
    }
}
