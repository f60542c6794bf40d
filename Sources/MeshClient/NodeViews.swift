import MeshAPI

/// How meshctl shows instances and node statistics.
extension Views {
    /// `meshctl ps`: the docs/INTERFACES.md columns; an unreachable node is one row saying so.
    public static func instances(_ rows: [InstanceRow], style: OutputStyle = .plain) -> String {
        var t = TextTable(["instance", "node", "state", "pid", "restarts", "started", "cpu", "rss"], flexible: [2])
        t.colours = [2: { TerminalColour.of(state: String($0.prefix { $0 != " " })) }]
        for r in rows {
            let state = switch r.state {
            case "unreachable": "unreachable (\(r.detail ?? "no answer"))"
            case "pending", "placed": "\(r.state) (\(r.detail ?? ""))"
            default: r.state
            }
            t.add([r.workload.isEmpty ? "-" : r.id, r.node.isEmpty ? "-" : r.node, state,
                   r.pid.map { "\($0)" } ?? "-", "\(r.restarts)", r.started.map(shortTime) ?? "-",
                   r.cpu.map { String(format1($0)) + "%" } ?? "-", r.rss.map(bytes) ?? "-"])
        }
        return t.render(style)
    }

    /// `meshctl stats`: the latest sample, then the recent history.
    public static func stats(_ s: NodeStatsInfo, style: OutputStyle = .plain) -> String {
        var kv = KeyValueList()
        kv.add("node", s.node)
        kv.add("sampled", s.time ?? "not yet")
        kv.add("cpu", s.cpuUtilisation.map { "\(format1($0 * 100))% of \(s.cores ?? 0) cores" } ?? "-")
        if !s.cpuPerCore.isEmpty {
            kv.add("per core", s.cpuPerCore.map { $0.map { "\(format1($0 * 100))%" } ?? "-" }.joined(separator: " "))
        }
        kv.add("load", [s.load1, s.load5, s.load15].map { $0.map { format2($0) } ?? "-" }.joined(separator: " "))
        kv.add("memory", "\(s.memoryAvailableBytes.map(bytes) ?? "-") available of \(s.memoryTotalBytes.map(bytes) ?? "-")")
        kv.add("swap", "\(s.swapFreeBytes.map(bytes) ?? "-") free of \(s.swapTotalBytes.map(bytes) ?? "-")")
        kv.add("disk", "\(s.diskFreeBytes.map(bytes) ?? "-") free of \(s.diskTotalBytes.map(bytes) ?? "-") (\(s.diskPath ?? "-"))")
        kv.add("network", "rx \(s.receiveBytesPerSecond.map { bytes(UInt64($0)) + "/s" } ?? "-"), tx \(s.transmitBytesPerSecond.map { bytes(UInt64($0)) + "/s" } ?? "-")")
        kv.add("uptime", s.uptimeSeconds.map(seconds) ?? "-")
        kv.add("temperature", s.temperatureCelsius.map { "\(format1($0)) °C" } ?? "-")
        var out = kv.render(style)
        if !s.history.isEmpty {
            var t = TextTable(["time", "res", "cpu", "load1", "mem avail", "rx/s", "tx/s"])
            for p in s.history.suffix(historyRows) {
                t.add([shortTime(p.time), p.resolution, p.cpuUtilisation.map { "\(format1($0 * 100))%" } ?? "-",
                       p.load1.map(format2) ?? "-", p.memoryAvailableBytes.map(bytes) ?? "-",
                       p.receiveBytesPerSecond.map { bytes(UInt64($0)) } ?? "-",
                       p.transmitBytesPerSecond.map { bytes(UInt64($0)) } ?? "-"])
            }
            out += "\nhistory (last \(min(historyRows, s.history.count)) of \(s.history.count) points)\n" + t.render(style)
        }
        return out
    }

    /// History rows `meshctl stats` prints (`--json` has all).
    static let historyRows = 20

    /// `2026-11-27T12:56:03.120Z` → `12:56:03`.
    static func shortTime(_ iso: String) -> String {
        guard let t = iso.firstIndex(of: "T") else { return iso }
        return String(iso[iso.index(after: t)...].prefix(8))
    }

    /// 1536 → `1.5 KiB`.
    public static func bytes(_ n: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(n), unit = 0
        while value >= 1024, unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(n) B" : "\(format1(value)) \(units[unit])"
    }

    public static func format1(_ x: Double) -> String { String((x * 10).rounded() / 10) }
    static func format2(_ x: Double) -> String { String((x * 100).rounded() / 100) }
}
