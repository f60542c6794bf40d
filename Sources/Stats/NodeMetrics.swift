import MeshCore

/// Prometheus text exposition (format 0.0.4) of node and instance statistics, named per
/// Prometheus conventions: a `meshd_` prefix, base units in names (`_bytes`, `_seconds`,
/// `_celsius`, `_ratio`), `_total` on counters, one HELP and TYPE per family.
public enum NodeMetrics {
    /// The body for `GET /metrics` (Content-Type `text/plain; version=0.0.4`).
    /// `instances` maps an instance name (e.g. `web.0`) to its process's statistics.
    public static func render(node: NodeStats, instances: [String: ProcessStats] = [:],
                              ticksPerSecond: Double = StatsReader.clockTicksPerSecond) -> String {
        var w = PrometheusText()
        let s = node.snapshot
        if let cpu = s.cpu {
            w.header("meshd_node_cpu_seconds_total", .counter, help: "Seconds the CPUs spent in each mode.")
            for (i, core) in cpu.perCore.enumerated() {
                for (mode, ticks) in core.modes {
                    w.sample("meshd_node_cpu_seconds_total", [("cpu", String(i)), ("mode", mode)], Double(ticks) / ticksPerSecond)
                }
            }
            w.header("meshd_node_cpus", .gauge, help: "Number of CPUs.")
            w.sample("meshd_node_cpus", [], Double(cpu.perCore.count))
        }
        if node.cpuUtilisation != nil {
            w.header("meshd_node_cpu_utilisation_ratio", .gauge, help: "Busy fraction of the CPUs over the last sample interval; cpu=\"all\" is the whole node.")
            if let all = node.cpuUtilisation { w.sample("meshd_node_cpu_utilisation_ratio", [("cpu", "all")], all) }
            for (i, u) in node.cpuUtilisationPerCore.enumerated() {
                if let u { w.sample("meshd_node_cpu_utilisation_ratio", [("cpu", String(i))], u) }
            }
        }
        if let load = s.load {
            for (name, value, minutes) in [("meshd_node_load1", load.one, 1), ("meshd_node_load5", load.five, 5), ("meshd_node_load15", load.fifteen, 15)] {
                w.header(name, .gauge, help: "\(minutes)-minute load average.")
                w.sample(name, [], value)
            }
        }
        if let m = s.memory {
            w.gauge("meshd_node_memory_total_bytes", help: "Physical memory.", Double(m.totalBytes))
            if let v = m.availableBytes { w.gauge("meshd_node_memory_available_bytes", help: "Memory available without swapping (MemAvailable).", Double(v)) }
            if let v = m.swapTotalBytes { w.gauge("meshd_node_swap_total_bytes", help: "Swap space.", Double(v)) }
            if let v = m.swapFreeBytes { w.gauge("meshd_node_swap_free_bytes", help: "Unused swap space.", Double(v)) }
        }
        if let d = s.disk {
            w.header("meshd_node_filesystem_size_bytes", .gauge, help: "Size of the filesystem holding the data directory.")
            w.sample("meshd_node_filesystem_size_bytes", [("path", d.path)], Double(d.totalBytes))
            w.header("meshd_node_filesystem_free_bytes", .gauge, help: "Space available to unprivileged users on that filesystem.")
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
                w.header(name, .counter, help: help)
                for n in s.network { w.sample(name, [("device", n.interface)], Double(key(n))) }
            }
        }
        if let up = s.uptimeSeconds { w.gauge("meshd_node_uptime_seconds", help: "Seconds since boot.", up) }
        if !s.temperatures.isEmpty {
            w.header("meshd_node_temperature_celsius", .gauge, help: "Thermal zone temperature.")
            for t in s.temperatures { w.sample("meshd_node_temperature_celsius", [("zone", t.zone), ("type", t.type ?? "")], t.celsius) }
        }
        if !instances.isEmpty {
            let sorted = instances.sorted { $0.key < $1.key }
            w.header("meshd_instance_cpu_seconds_total", .counter, help: "CPU seconds used by the instance's live processes.")
            for (name, p) in sorted { w.sample("meshd_instance_cpu_seconds_total", [("instance", name)], p.cpuSeconds(ticksPerSecond: ticksPerSecond)) }
            w.header("meshd_instance_cpu_utilisation_ratio", .gauge, help: "CPU used since the previous sample, in cores (1 = one full core).")
            for (name, p) in sorted { if let c = p.cpuPercent { w.sample("meshd_instance_cpu_utilisation_ratio", [("instance", name)], c / 100) } }
            w.header("meshd_instance_resident_memory_bytes", .gauge, help: "Resident set size, summed over its processes.")
            for (name, p) in sorted { w.sample("meshd_instance_resident_memory_bytes", [("instance", name)], Double(p.snapshot.residentBytes)) }
            w.header("meshd_instance_open_fds", .gauge, help: "Open file descriptors.")
            for (name, p) in sorted { if let f = p.snapshot.openFiles { w.sample("meshd_instance_open_fds", [("instance", name)], Double(f)) } }
            w.header("meshd_instance_threads", .gauge, help: "Threads.")
            for (name, p) in sorted { w.sample("meshd_instance_threads", [("instance", name)], Double(p.snapshot.threads)) }
            w.header("meshd_instance_processes", .gauge, help: "Processes: the main one and its descendants.")
            for (name, p) in sorted { w.sample("meshd_instance_processes", [("instance", name)], Double(p.snapshot.processes)) }
        }
        return w.text
    }
}
