/// Prometheus text exposition (format 0.0.4) of node and instance statistics, named per
/// Prometheus conventions: a `meshd_` prefix, base units in names (`_bytes`, `_seconds`,
/// `_celsius`, `_ratio`), `_total` on counters, one HELP and TYPE per family.
public enum PrometheusText {
    /// The body for `GET /metrics` (Content-Type `text/plain; version=0.0.4`).
    /// `instances` maps an instance name (e.g. `web.0`) to its process's statistics.
    public static func render(node: NodeStats, instances: [String: ProcessStats] = [:],
                              ticksPerSecond: Double = StatsReader.clockTicksPerSecond) -> String {
        var w = Writer()
        let s = node.snapshot
        if let cpu = s.cpu {
            w.family("meshd_node_cpu_seconds_total", .counter, "Seconds the CPUs spent in each mode.")
            for (i, core) in cpu.perCore.enumerated() {
                for (mode, ticks) in core.modes {
                    w.sample("meshd_node_cpu_seconds_total", [("cpu", String(i)), ("mode", mode)], Double(ticks) / ticksPerSecond)
                }
            }
            w.family("meshd_node_cpus", .gauge, "Number of CPUs.")
            w.sample("meshd_node_cpus", [], Double(cpu.perCore.count))
        }
        if node.cpuUtilisation != nil {
            w.family("meshd_node_cpu_utilisation_ratio", .gauge, "Busy fraction of the CPUs over the last sample interval; cpu=\"all\" is the whole node.")
            if let all = node.cpuUtilisation { w.sample("meshd_node_cpu_utilisation_ratio", [("cpu", "all")], all) }
            for (i, u) in node.cpuUtilisationPerCore.enumerated() {
                if let u { w.sample("meshd_node_cpu_utilisation_ratio", [("cpu", String(i))], u) }
            }
        }
        if let load = s.load {
            for (name, value, minutes) in [("meshd_node_load1", load.one, 1), ("meshd_node_load5", load.five, 5), ("meshd_node_load15", load.fifteen, 15)] {
                w.family(name, .gauge, "\(minutes)-minute load average.")
                w.sample(name, [], value)
            }
        }
        if let m = s.memory {
            w.gauge("meshd_node_memory_total_bytes", "Physical memory.", Double(m.totalBytes))
            if let v = m.availableBytes { w.gauge("meshd_node_memory_available_bytes", "Memory available without swapping (MemAvailable).", Double(v)) }
            if let v = m.swapTotalBytes { w.gauge("meshd_node_swap_total_bytes", "Swap space.", Double(v)) }
            if let v = m.swapFreeBytes { w.gauge("meshd_node_swap_free_bytes", "Unused swap space.", Double(v)) }
        }
        if let d = s.disk {
            w.family("meshd_node_filesystem_size_bytes", .gauge, "Size of the filesystem holding the data directory.")
            w.sample("meshd_node_filesystem_size_bytes", [("path", d.path)], Double(d.totalBytes))
            w.family("meshd_node_filesystem_free_bytes", .gauge, "Space available to unprivileged users on that filesystem.")
            w.sample("meshd_node_filesystem_free_bytes", [("path", d.path)], Double(d.freeBytes))
        }
        if !s.network.isEmpty {
            let counters: [(String, String, (NetworkCounters) -> UInt64)] = [
                ("meshd_node_network_receive_bytes_total", "Bytes received.", \.receiveBytes),
                ("meshd_node_network_transmit_bytes_total", "Bytes sent.", \.transmitBytes),
                ("meshd_node_network_receive_packets_total", "Packets received.", \.receivePackets),
                ("meshd_node_network_transmit_packets_total", "Packets sent.", \.transmitPackets),
                ("meshd_node_network_receive_errors_total", "Receive errors.", \.receiveErrors),
                ("meshd_node_network_transmit_errors_total", "Transmit errors.", \.transmitErrors),
                ("meshd_node_network_receive_drops_total", "Received packets dropped.", \.receiveDrops),
                ("meshd_node_network_transmit_drops_total", "Packets dropped on send.", \.transmitDrops),
            ]
            for (name, help, key) in counters {
                w.family(name, .counter, help)
                for n in s.network { w.sample(name, [("device", n.interface)], Double(key(n))) }
            }
        }
        if let up = s.uptimeSeconds { w.gauge("meshd_node_uptime_seconds", "Seconds since boot.", up) }
        if !s.temperatures.isEmpty {
            w.family("meshd_node_temperature_celsius", .gauge, "Thermal zone temperature.")
            for t in s.temperatures { w.sample("meshd_node_temperature_celsius", [("zone", t.zone), ("type", t.type ?? "")], t.celsius) }
        }
        if !instances.isEmpty {
            let sorted = instances.sorted { $0.key < $1.key }
            w.family("meshd_instance_cpu_seconds_total", .counter, "CPU seconds used by the instance's live processes.")
            for (name, p) in sorted { w.sample("meshd_instance_cpu_seconds_total", [("instance", name)], p.cpuSeconds(ticksPerSecond: ticksPerSecond)) }
            w.family("meshd_instance_cpu_utilisation_ratio", .gauge, "CPU used since the previous sample, in cores (1 = one full core).")
            for (name, p) in sorted { if let c = p.cpuPercent { w.sample("meshd_instance_cpu_utilisation_ratio", [("instance", name)], c / 100) } }
            w.family("meshd_instance_resident_memory_bytes", .gauge, "Resident set size, summed over its processes.")
            for (name, p) in sorted { w.sample("meshd_instance_resident_memory_bytes", [("instance", name)], Double(p.snapshot.residentBytes)) }
            w.family("meshd_instance_open_fds", .gauge, "Open file descriptors.")
            for (name, p) in sorted { if let f = p.snapshot.openFiles { w.sample("meshd_instance_open_fds", [("instance", name)], Double(f)) } }
            w.family("meshd_instance_threads", .gauge, "Threads.")
            for (name, p) in sorted { w.sample("meshd_instance_threads", [("instance", name)], Double(p.snapshot.threads)) }
            w.family("meshd_instance_processes", .gauge, "Processes: the main one and its descendants.")
            for (name, p) in sorted { w.sample("meshd_instance_processes", [("instance", name)], Double(p.snapshot.processes)) }
        }
        return w.text
    }

    enum Kind: String { case counter, gauge }

    struct Writer {
        var text = ""

        mutating func family(_ name: String, _ kind: Kind, _ help: String) {
            text += "# HELP \(name) \(escapeHelp(help))\n# TYPE \(name) \(kind.rawValue)\n"
        }

        mutating func gauge(_ name: String, _ help: String, _ value: Double) {
            family(name, .gauge, help)
            sample(name, [], value)
        }

        mutating func sample(_ name: String, _ labels: [(String, String)], _ value: Double) {
            text += name
            if !labels.isEmpty {
                text += "{" + labels.map { "\($0.0)=\"\(escapeLabel($0.1))\"" }.joined(separator: ",") + "}"
            }
            text += " " + format(value) + "\n"
        }

        func format(_ v: Double) -> String {
            if v.isNaN { return "NaN" }
            if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
            if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
            return String(v)
        }

        func escapeLabel(_ s: String) -> String {
            var out = ""
            for c in s {
                switch c {
                case "\\": out += "\\\\"
                case "\"": out += "\\\""
                case "\n": out += "\\n"
                default: out.append(c)
                }
            }
            return out
        }

        func escapeHelp(_ s: String) -> String {
            s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
        }
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
