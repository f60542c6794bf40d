import MeshAPI
import MeshWire
import Membership

/// The names and meaning of every `/metrics` family (Prometheus conventions: a `meshd_`
/// prefix, `_total` on counters, units in the name).
enum AgentMetrics {
    static func render(members: [MemberStatus], core: MembershipMetrics, runtime: RuntimeCounters,
                       datagramRejected: RejectCounters, streamRejected: RejectCounters,
                       keys: Int, uptimeSeconds: Double) -> String {
        var p = PrometheusText()
        var byStatus: [MemberStatus: Int] = [:]
        for s in members { byStatus[s, default: 0] += 1 }
        p.family("meshd_members", .gauge, help: "Members known to this agent (itself included), by status.",
                 MemberStatus.allCases.map { (labels: [("status", $0.description)], value: Double(byStatus[$0] ?? 0)) })
        p.family("meshd_probes_total", .counter, help: "Direct probes (pings) this agent sent.", value: Double(core.probesSent))
        p.family("meshd_probe_failures_total", .counter, help: "Probes that got no ack in time, directly or indirectly.",
                 value: Double(core.probeFailures))
        p.family("meshd_indirect_probes_total", .counter, help: "Indirect probes (ping-req) this agent asked for.",
                 value: Double(core.indirectProbesSent))
        p.family("meshd_suspicions_total", .counter, help: "Suspicions this agent raised.", value: Double(core.suspicionsRaised))
        p.family("meshd_refutations_total", .counter, help: "Suspicions of this agent that it refuted.", value: Double(core.refutations))
        p.family("meshd_deaths_declared_total", .counter, help: "Members this agent declared dead.", value: Double(core.deathsDeclared))
        p.family("meshd_member_changes_total", .counter, help: "Member state changes observed, by kind.",
                 MemberChange.Kind.allKinds.map { (labels: [("kind", $0.rawValue)], value: Double(runtime.changes[$0] ?? 0)) })
        var rejected: [(labels: [(String, String)], value: Double)] = []
        for reason in RejectReason.allCases {
            rejected.append((labels: [("reason", reason.rawValue)],
                             value: Double(datagramRejected[reason] &+ streamRejected[reason] &+ runtime.decodeRejected[reason])))
        }
        rejected.append((labels: [("reason", "misrouted")], value: Double(runtime.misroutedFrames)))
        p.family("meshd_frames_rejected_total", .counter,
                 help: "Frames refused before reaching the protocol (wrong key, bad signature, replay, malformed...), by reason.",
                 rejected)
        p.family("meshd_datagrams_received_total", .counter, help: "UDP datagrams received on the mesh port.",
                 value: Double(runtime.datagramsIn))
        p.family("meshd_datagrams_sent_total", .counter, help: "UDP datagrams sent on the mesh port.", value: Double(runtime.datagramsOut))
        p.family("meshd_datagrams_dropped_total", .counter,
                 help: "Datagrams dropped unread because the inbound queue was full.", value: Double(runtime.datagramsDropped))
        p.family("meshd_received_bytes_total", .counter, help: "Bytes received on the mesh port, by transport.", [
            (labels: [("transport", "udp")], value: Double(runtime.bytesInDatagram)),
            (labels: [("transport", "tcp")], value: Double(runtime.bytesInStream)),
        ])
        p.family("meshd_sent_bytes_total", .counter, help: "Bytes sent on the mesh port, by transport.", [
            (labels: [("transport", "udp")], value: Double(runtime.bytesOutDatagram)),
            (labels: [("transport", "tcp")], value: Double(runtime.bytesOutStream)),
        ])
        p.family("meshd_push_pull_exchanges_total", .counter, help: "Push-pull exchanges this agent started, by result.", [
            (labels: [("result", "ok")], value: Double(runtime.exchangesOK)),
            (labels: [("result", "failed")], value: Double(runtime.exchangesFailed)),
            (labels: [("result", "skipped")], value: Double(runtime.exchangesSkipped)),
        ])
        p.family("meshd_send_errors_total", .counter, help: "Messages that could not be sealed (too large).",
                 value: Double(runtime.sendErrors))
        p.family("meshd_keyring_keys", .gauge, help: "Cluster keys in this agent's keyring.", value: Double(keys))
        p.family("meshd_uptime_seconds", .gauge, help: "Seconds since this agent started.", value: uptimeSeconds)
        return p.text
    }
}

extension MemberChange.Kind {
    /// Every kind, in a fixed order for the metrics page.
    static let allKinds: [MemberChange.Kind] = [.joined, .updated, .suspected, .refuted, .dead, .left, .reaped]
}
