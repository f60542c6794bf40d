@testable import MeshAgent
import Membership
import MeshWire
import Testing
import Consensus

struct MetricsTests {
    @Test func everyFamilyFollowsPrometheusNaming() {
        var rejected = RejectCounters()
        rejected.record(.replayed)
        var counters = RuntimeCounters()
        counters.decodeRejected.record(.malformed)
        var core = MembershipMetrics()
        core.probesSent = 12
        let socketErrors = SocketErrorCounters(logger: .init(label: "test"))
        socketErrors.count(.mesh, .einval)
        socketErrors.count(.mesh, .einval)
        socketErrors.count(.services, .eperm)
        socketErrors.recordRebind(.mesh)
        let text = AgentMetrics.render(members: [.alive, .alive, .dead], core: core, runtime: counters, socketErrors: socketErrors,
                                       datagramRejected: rejected, streamRejected: RejectCounters(), keys: 1, uptimeSeconds: 3)
        #expect(text.contains("meshd_members{status=\"alive\"} 2\n"))
        #expect(text.contains("meshd_members{status=\"dead\"} 1\n"))
        #expect(text.contains("meshd_probes_total 12\n"))
        #expect(text.contains("meshd_frames_rejected_total{reason=\"replayed\"} 1\n"))
        #expect(text.contains("meshd_frames_rejected_total{reason=\"malformed\"} 1\n"))
        #expect(text.contains("meshd_send_errors_total{socket=\"mesh\",reason=\"einval\"} 2\n"))
        #expect(text.contains("meshd_send_errors_total{socket=\"services\",reason=\"eperm\"} 1\n"))
        #expect(text.contains("meshd_socket_rebinds_total{socket=\"mesh\"} 1\n"))
        #expect(text.contains("meshd_socket_rebinds_total{socket=\"api\"} 0\n"))
        for line in text.split(separator: "\n") where line.hasPrefix("# TYPE") {
            let parts = line.split(separator: " ")
            #expect(parts[2].hasPrefix("meshd_"))
            #expect((parts[3] == "counter") == parts[2].hasSuffix("_total"), "\(line)")
        }
    }

    @Test func raftFamiliesCountSavesStepDownsAndLeaders() {
        var c = ConsensusCounters()
        c.noteSave(.milliseconds(2))
        c.noteSave(.milliseconds(500))
        c.stepDowns[RaftStepDown.quorumContactLost.label, default: 0] += 1
        c.leaderChangesSeen = 3
        let text = AgentMetrics.renderConsensus(c, role: .follower, hasLeader: true, term: 7, commit: 40, applied: 39)
        #expect(text.contains("meshd_raft_storage_saves_total 2\n"))
        #expect(text.contains("meshd_raft_storage_save_seconds_total 0.502\n"))
        #expect(text.contains("meshd_raft_storage_save_max_seconds 0.5\n"))
        #expect(text.contains("meshd_raft_step_downs_total{reason=\"quorum_contact_lost\"} 1\n"))
        #expect(text.contains("meshd_raft_step_downs_total{reason=\"newer_term\"} 0\n"))
        #expect(text.contains("meshd_raft_leader_changes_seen_total 3\n"))
        #expect(text.contains("meshd_raft_term 7\n") && text.contains("meshd_raft_is_leader 0\n") && text.contains("meshd_raft_has_leader 1\n"))
        for line in text.split(separator: "\n") where line.hasPrefix("# TYPE") {
            let parts = line.split(separator: " ")
            #expect((parts[3] == "counter") == parts[2].hasSuffix("_total"), "\(line)")
        }
    }
}
