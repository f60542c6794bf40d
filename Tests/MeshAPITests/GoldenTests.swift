import Foundation
import MeshAPI
import MeshClient
import Testing

/// meshctl's output pinned by golden files: each view renders a fixed answer (a 5-Pi mesh)
/// and the text must equal `Golden/NAME.txt`; the answer's JSON, encoded as the agent
/// encodes it (sorted keys, slashes unescaped: what `meshctl --json` prints), must equal
/// `Golden/NAME.json`, so a renamed field or column shows up as a diff in review.
///
/// To regenerate after an intended change, run
///   MESHCTL_UPDATE_GOLDEN=1 swift test --skip-build --filter GoldenTests
/// and read `git diff Tests/MeshAPITests/Golden` before committing it.
struct GoldenTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")
    static let updating = ProcessInfo.processInfo.environment["MESHCTL_UPDATE_GOLDEN"] == "1"

    /// Compares `actual` with the committed file (or writes it when regenerating).
    func golden(_ name: String, _ actual: String) throws {
        let url = Self.folder.appendingPathComponent(name)
        if Self.updating {
            try FileManager.default.createDirectory(at: Self.folder, withIntermediateDirectories: true)
            try Data(actual.utf8).write(to: url)
            return
        }
        let expected = try #require(try? String(contentsOf: url, encoding: .utf8),
                                    "no golden file \(name): run MESHCTL_UPDATE_GOLDEN=1 swift test --filter GoldenTests")
        #expect(actual == expected, "\(name) differs from its golden file; regenerate it if the change is intended")
    }

    func goldenJSON(_ name: String, _ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
        try golden(name, String(decoding: try encoder.encode(value), as: UTF8.self) + "\n")
    }

    /// Every line of a plain table fits 80 columns, the width meshctl uses on a pipe.
    func fits80(_ text: String) {
        for line in text.split(separator: "\n") { #expect(line.count <= 80, "\(line.count) columns: \(line)") }
    }

    @Test func members() throws {
        let text = Views.members(Fixtures.members)
        fits80(text)
        try golden("members.txt", text)
        try golden("members.colour.txt", Views.members(Fixtures.members, style: OutputStyle(width: 80, colour: true)))
        try golden("members.wide.txt", Views.members(Fixtures.members, style: OutputStyle(width: nil, colour: false)))
        try goldenJSON("members.json", Fixtures.members)
    }

    @Test func status() throws {
        try golden("status.txt", Views.status(Fixtures.status))
        try goldenJSON("status.json", Fixtures.status)
    }

    @Test func instances() throws {
        let text = Views.instances(Fixtures.instances)
        fits80(text)
        try golden("ps.txt", text)
        try goldenJSON("ps.json", Fixtures.instances)
    }

    @Test func events() throws {
        let text = Views.events(Fixtures.events)
        fits80(text)
        try golden("events.txt", text)
        try golden("events-follow.txt", Fixtures.events.map { Views.eventLine($0) }.joined())
        try goldenJSON("events.json", Fixtures.events)
    }

    @Test func why() throws {
        let text = Views.why(Fixtures.why)
        fits80(text.split(separator: "\n").filter { !$0.hasPrefix("last moved") }.joined(separator: "\n"))
        try golden("why.txt", text)
        try goldenJSON("why.json", Fixtures.why)
    }

    @Test func varsTokensKeys() throws {
        try golden("var-ls.txt", Views.vars(Fixtures.vars))
        try goldenJSON("var-ls.json", Fixtures.vars)
        try golden("token-list.txt", Views.tokens(Fixtures.tokens))
        try goldenJSON("token-list.json", Fixtures.tokens)
        try golden("keys-list.txt", Views.keyring(Fixtures.keyring))
        try goldenJSON("keys-list.json", Fixtures.keyring)
    }

    @Test func stats() throws {
        let text = Views.stats(Fixtures.stats)
        fits80(text)
        try golden("stats.txt", text)
        try goldenJSON("stats.json", Fixtures.stats)
    }
}

/// The fixed answers the golden files are rendered from: a 5-Pi mesh, as in the README.
enum Fixtures {
    static let ids: [String] = (1 ... 5).map { (n: Int) -> String in
        String(repeating: String(n), count: 2) + "a1c0ffee" + String(repeating: "0", count: 54)
    }

    static let members: [MemberInfo] = (1 ... 5).map(member)

    static func member(_ n: Int) -> MemberInfo {
        let statuses = ["alive", "alive", "alive", "suspect", "left"]
        let roles = ["leader", "voter", "voter", "member", "member"]
        let tags: [String: String] = n == 2
            ? ["arch": "aarch64", "rack": "shelf-top", "zone": "kitchen", "sensor": "bme280-humidity-and-pressure"]
            : ["arch": "aarch64", "rack": "shelf-\(n)"]
        let rtt: Double? = n == 1 ? nil : 0.8 + Double(n) * 1.5
        let address = "192.168.1.1\(n):7600"
        return MemberInfo(name: "pi-\(n)", id: ids[n - 1], address: address, addresses: [address], status: statuses[n - 1],
                          incarnation: UInt64(n), role: roles[n - 1], tags: tags, apiAddress: "127.0.0.1:7601", rttMs: rtt,
                          coordinate: nil, isSelf: n == 1)
    }

    static let status = StatusInfo(
        id: ids[0], name: "pi-1", address: "192.168.1.11:7600", addresses: ["192.168.1.11:7600"], apiAddress: "127.0.0.1:7601",
        profile: "lan", members: ["alive": 3, "suspect": 1, "left": 1], leader: "pi-1", term: 4, voters: ["pi-1", "pi-2", "pi-3"],
        quorumReachable: true, consensus: "leader", uptimeSeconds: 7384, leaving: false, commitIndex: 212, appliedIndex: 212,
        voterHealth: nil, lagEntries: 0, appliedAgeSeconds: 0.4)

    static let instances: [InstanceRow] = [
        InstanceRow(workload: "web", instance: "0", node: "pi-1", state: "running", pid: 4121, restarts: 0,
                    started: "2026-12-07T21:03:11.000Z", cpu: 2.5, rss: 24_379_392, detail: nil, adopted: false,
                    command: "python3 -m http.server 8000", placement: "p1"),
        InstanceRow(workload: "web", instance: "1", node: "pi-2", state: "backing-off", pid: nil, restarts: 3,
                    started: nil, cpu: nil, rss: nil, detail: "exit code 1", adopted: false,
                    command: "python3 -m http.server 8000", placement: "p2"),
        InstanceRow(workload: "sensor-reader", instance: "0", node: "pi-3", state: "running", pid: 812, restarts: 1,
                    started: "2026-12-07T19:44:02.000Z", cpu: 11.25, rss: 8_912_896, detail: nil, adopted: true,
                    command: "./read-sensors", placement: "p3"),
        InstanceRow(workload: "web", instance: "2", node: "", state: "pending", pid: nil, restarts: 0, started: nil, cpu: nil,
                    rss: nil, detail: "no node satisfies arch=x86_64 (5 excluded: arch is aarch64)", adopted: false,
                    command: "python3 -m http.server 8000"),
        InstanceRow(workload: "", instance: "", node: "pi-4", state: "unreachable", pid: nil, restarts: 0, started: nil, cpu: nil,
                    rss: nil, detail: "no answer in 3 s", adopted: false, command: ""),
    ]

    static let events: [EventInfo] = [
        EventInfo(time: "2026-12-07T21:03:10.120Z", kind: "member.joined", node: "pi-1", origin: ids[0], seq: 40,
                  attributes: ["member": "pi-5", "id": String(ids[4].prefix(16)), "incarnation": "1"]),
        EventInfo(time: "2026-12-07T21:03:11.002Z", kind: "workload.started", node: "pi-1", origin: ids[0], seq: 41,
                  attributes: ["instance": "web.0", "workload": "web", "pid": "4121", "by": "scheduler", "placement": "p1"]),
        EventInfo(time: "2026-12-07T21:09:45.530Z", kind: "member.suspect", node: "pi-2", origin: ids[1], seq: 17,
                  attributes: ["member": "pi-4", "id": String(ids[3].prefix(16)), "incarnation": "4", "by": "pi-2"]),
        EventInfo(time: "2026-12-07T21:10:02.000Z", kind: "user.deploy", node: "pi-3", origin: ids[2], seq: 9,
                  attributes: ["version": "1.4", "by": "ana"]),
    ]

    static let why = WhyInfo(
        workload: "web", instance: 0,
        candidates: [CandidateInfo(node: "pi-1", excluded: nil, score: 1.25, instances: 1),
                     CandidateInfo(node: "pi-3", excluded: nil, score: 0.875, instances: 0),
                     CandidateInfo(node: "pi-2", excluded: "not enough memory: 128 MB free, 256 MB asked by each instance", score: nil, instances: 1),
                     CandidateInfo(node: "pi-4", excluded: "suspect", score: nil, instances: 0)],
        placement: PlacementInfo(placement: "p1", instance: 0, node: "pi-1", placedAt: "2026-12-07T21:03:10.500Z", index: 31,
                                 replaces: nil, generation: 1, startedAt: "2026-12-07T21:03:11.000Z"),
        pending: [], lastMove: "index 31 placed web.0 on pi-1 (submitted)")

    static let vars = VarsResponse(vars: [VarInfo(key: "db.host", value: "10.0.0.5", index: 12),
                                          VarInfo(key: "motd", value: String(repeating: "a long message of the day ", count: 4), index: 30)],
                                   stale: true, appliedIndex: 212, lagEntries: 2, appliedAgeSeconds: 0.25)

    static let tokens = [TokenInfo(name: "bootstrap", role: "admin", index: 3), TokenInfo(name: "grafana", role: "read", index: 15)]

    static let keyring = KeyringInfo(
        local: ["6e16d681", "0b7c1e22"], keys: [KeyUsage(fingerprint: "6e16d681", installed: 5, primary: 4),
                                                 KeyUsage(fingerprint: "0b7c1e22", installed: 4, primary: 0)],
        total: 5, members: (1 ... 5).map { n in
            MemberKeyResult(name: "pi-\(n)", id: ids[n - 1], result: n == 4 ? "timeout" : "ok", error: nil,
                            keys: n == 4 ? nil : ["6e16d681", "0b7c1e22"])
        })

    static let stats = NodeStatsInfo(
        node: "pi-3", time: "2026-12-07T21:10:00.000Z", cores: 4, cpuUtilisation: 0.3125, cpuPerCore: [0.25, 0.5, 0.125, nil],
        load1: 1.21, load5: 0.98, load15: 0.7, memoryTotalBytes: 4_124_033_024, memoryAvailableBytes: 2_951_823_360,
        swapTotalBytes: 104_853_504, swapFreeBytes: 104_853_504, diskPath: "/var/lib/meshd", diskTotalBytes: 31_037_849_600,
        diskFreeBytes: 22_106_816_512, receiveBytesPerSecond: 1843, transmitBytesPerSecond: 2210.5, uptimeSeconds: 93_784,
        temperatureCelsius: 51.6,
        history: (0 ..< 3).map { i in
            StatsPoint(time: "2026-12-07T21:0\(7 + i):00.000Z", resolution: "1m", cpuUtilisation: 0.25 + Double(i) / 40, load1: 1.0 + Double(i) / 10,
                           memoryAvailableBytes: 2_950_000_000, diskFreeBytes: 22_106_816_512, receiveBytesPerSecond: 1500,
                           transmitBytesPerSecond: 2000, temperatureCelsius: 51)
        })
}
