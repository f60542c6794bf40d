import MeshCore
import MeshAPI
import MeshWire
import EventLog
import Membership

/// The names and meaning of every `/metrics` family (Prometheus conventions: a `meshd_`
/// prefix, `_total` on counters, units in the name).
enum AgentMetrics {
    static func render(members: [MemberStatus], core: MembershipMetrics, runtime: RuntimeCounters,
                       socketErrors: SocketErrorCounters,
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
        rejected.append((labels: [("reason", "banned")], value: Double(runtime.bannedFrames)))
        p.family("meshd_frames_rejected_total", .counter,
                 help: "Frames refused before reaching the protocol (wrong key, bad signature, replay, malformed...), by reason.",
                 rejected)
        p.family("meshd_datagrams_received_total", .counter, help: "UDP datagrams received on the mesh port.",
                 value: Double(runtime.datagramsIn))
        p.family("meshd_datagrams_sent_total", .counter, help: "UDP datagrams sent: from the mesh port, and the services' from their send-only socket.", value: Double(runtime.datagramsOut))
        p.family("meshd_datagrams_dropped_total", .counter,
                 help: "Datagrams and frames dropped unhandled because a queue was full (the agent starting, or a service's inbox).", value: Double(runtime.datagramsDropped))
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
        let sendErrors = socketErrors.counts
        let errorKeys = sendErrors.keys.sorted { ($0.socket.rawValue, $0.reason.rawValue) < ($1.socket.rawValue, $1.reason.rawValue) }
        p.family("meshd_send_errors_total", .counter,
                 help: "Messages not sent, by socket and reason: the kernel's refusal (errno name), unsealable or socket_down. Each loses that message only.",
                 errorKeys.filter { $0.reason != .notAlive }
                    .map { (labels: [("socket", $0.socket.rawValue), ("reason", $0.reason.rawValue)], value: Double(sendErrors[$0] ?? 0)) })
        // Not an error of a socket: membership says the member is gone, so nothing is sent
        // (every partition and dead member shows here, kept apart so an alert on send errors
        // means the network or the kernel).
        p.family("meshd_messages_to_absent_members_total", .counter,
                 help: "Messages for a member that is neither alive nor suspect (or has no address), not sent, by socket.",
                 [AgentSocket.mesh, .stream].map { s in (labels: [("socket", s.rawValue)], value: Double(sendErrors[.init(socket: s, reason: .notAlive)] ?? 0)) })
        let rebinds = socketErrors.rebinds
        p.family("meshd_socket_rebinds_total", .counter, help: "Listening sockets bound again after they closed while the agent ran, by socket.",
                 [AgentSocket.mesh, .meshListener, .api].map { (labels: [("socket", $0.rawValue)], value: Double(rebinds[$0] ?? 0)) })
        p.family("meshd_keyring_keys", .gauge, help: "Cluster keys in this agent's keyring.", value: Double(keys))
        p.family("meshd_uptime_seconds", .gauge, help: "Seconds since this agent started.", value: uptimeSeconds)
        return p.text
    }
}

extension MemberChange.Kind {
    /// Every kind, in a fixed order for the metrics page.
    static let allKinds: [MemberChange.Kind] = [.joined, .updated, .suspected, .refuted, .dead, .left, .reaped]
}

extension AgentMetrics {
    /// The event log's replication counters (`meshd_event_*`).
    static func renderEventLog(_ m: ReplicationMetrics, held: Int, pruned: Int) -> String {
        var p = PrometheusText()
        func counter(_ name: String, _ help: String, _ v: UInt64) { p.family(name, .counter, help: help, value: Double(v)) }
        counter("meshd_event_appended_total", "Events this agent appended (its own).", m.appended)
        counter("meshd_event_received_stored_total", "Events of other origins stored from replication.", m.stored)
        counter("meshd_event_duplicates_total", "Received events already held (dropped).", m.duplicates)
        counter("meshd_event_rejected_total", "Received events refused (bad signature or shape, store failure).", m.rejected)
        p.family("meshd_event_messages_sent_total", .counter, help: "Replication messages sent, by type.", [
            (labels: [("type", "push")], value: Double(m.pushesSent)),
            (labels: [("type", "batch")], value: Double(m.batchesSent)),
            (labels: [("type", "digest")], value: Double(m.digestsSent)),
            (labels: [("type", "delta")], value: Double(m.deltasSent)),
            (labels: [("type", "graft")], value: Double(m.graftsSent)),
        ])
        counter("meshd_event_sent_bytes_total", "Encoded bytes of events sent in pushes and batches.", m.eventBytesSent)
        counter("meshd_event_ids_announced_total", "Event ids announced lazily (IHAVE).", m.idsAnnounced)
        counter("meshd_event_prunes_sent_total", "Broadcast-tree links pruned for an origin.", m.prunesSent)
        counter("meshd_event_grafted_events_sent_total", "Events sent in answer to grafts.", m.graftedEventsSent)
        counter("meshd_event_queue_dropped_total", "Events or ids not queued for push or announcement (queue full).",
                m.pushQueueDropped + m.lazyQueueDropped)
        counter("meshd_event_retention_pruned_total", "Events removed by retention since the start.", UInt64(pruned))
        p.family("meshd_event_origins", .gauge, help: "Origins whose events this agent holds.", value: Double(held))
        return p.text
    }
}
