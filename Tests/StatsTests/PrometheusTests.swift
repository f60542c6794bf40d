import Foundation
import MeshCore
@testable import Stats
import Testing

/// The exposition is checked by a real parser: Python's prometheus_client
/// (installed by scripts/setup.sh).
@Suite struct PrometheusTests {
    @Test func realNodeStatsParseWithPrometheusClient() throws {
        let reader = StatsReader()
        let a = reader.node(monotonicNanoseconds: 0)
        var x = 0.0
        for i in 0 ..< 1_000_000 { x += Double(i).squareRoot() }
        #expect(x > 0)
        let b = reader.node(monotonicNanoseconds: 100_000_000)
        var node = NodeStats(snapshot: b, previous: a)
        node.snapshot.temperatures.append(Temperature(zone: "thermal_zone9", type: "odd \"name\"\\x", celsius: 42.5))
        let me = try #require(reader.process(getpid(), monotonicNanoseconds: 0))
        let later = try #require(reader.process(getpid(), monotonicNanoseconds: 100_000_000))
        let text = NodeMetrics.render(node: node, instances: ["web.0": ProcessStats(snapshot: later, previous: me, ticksPerSecond: reader.ticksPerSecond)])

        let file = NSTemporaryDirectory() + "meshd-metrics-\(UUID().uuidString.prefix(8)).txt"
        defer { try? FileManager.default.removeItem(atPath: file) }
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        // Output through files, not pipes: nothing to read while the parser runs.
        let script = """
            import sys
            from prometheus_client.parser import text_string_to_metric_families
            with open(sys.argv[2], "w") as out:
                for f in text_string_to_metric_families(open(sys.argv[1]).read()):
                    print(f.name, f.type, len(f.samples), file=out)
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, file, file + ".out"]
        _ = FileManager.default.createFile(atPath: file + ".err", contents: nil)
        process.standardError = FileHandle(forWritingAtPath: file + ".err")
        defer { for s in [".out", ".err"] { try? FileManager.default.removeItem(atPath: file + s) } }
        try process.run()
        process.waitUntilExit()
        let output = (try? String(contentsOfFile: file + ".out", encoding: .utf8)) ?? ""
        let errors = (try? String(contentsOfFile: file + ".err", encoding: .utf8)) ?? ""
        try #require(process.terminationStatus == 0, "prometheus_client rejected the text (run scripts/setup.sh to install it): \(errors)\n\(text)")
        let families = Dictionary(uniqueKeysWithValues: output.split(separator: "\n").map { line in
            let parts = line.split(separator: " ")
            return (String(parts[0]), String(parts[1]))
        })
        // prometheus_client names counter families without `_total`.
        #expect(families["meshd_node_cpu_seconds"] == "counter")
        #expect(families["meshd_node_network_receive_bytes"] == "counter")
        #expect(families["meshd_node_memory_available_bytes"] == "gauge")
        #expect(families["meshd_node_cpu_utilisation_ratio"] == "gauge")
        #expect(families["meshd_node_temperature_celsius"] == "gauge")
        #expect(families["meshd_instance_resident_memory_bytes"] == "gauge")
        #expect(families["meshd_instance_cpu_seconds"] == "counter")
        #expect(families["meshd_node_load1"] == "gauge")
    }

    @Test func labelValuesAreEscaped() {
        var w = PrometheusText()
        w.sample("m", [("a", "x\"y\\z\nw")], 1.5)
        #expect(w.text == "m{a=\"x\\\"y\\\\z\\nw\"} 1.5\n")
    }
}
