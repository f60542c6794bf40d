@testable import MeshAgent
import Membership
import MeshWire
import Testing

struct MetricsTests {
    @Test func everyFamilyFollowsPrometheusNaming() {
        var rejected = RejectCounters()
        rejected.record(.replayed)
        var counters = RuntimeCounters()
        counters.decodeRejected.record(.malformed)
        var core = MembershipMetrics()
        core.probesSent = 12
        let text = AgentMetrics.render(members: [.alive, .alive, .dead], core: core, runtime: counters,
                                       datagramRejected: rejected, streamRejected: RejectCounters(), keys: 1, uptimeSeconds: 3)
        #expect(text.contains("meshd_members{status=\"alive\"} 2\n"))
        #expect(text.contains("meshd_members{status=\"dead\"} 1\n"))
        #expect(text.contains("meshd_probes_total 12\n"))
        #expect(text.contains("meshd_frames_rejected_total{reason=\"replayed\"} 1\n"))
        #expect(text.contains("meshd_frames_rejected_total{reason=\"malformed\"} 1\n"))
        for line in text.split(separator: "\n") where line.hasPrefix("# TYPE") {
            let parts = line.split(separator: " ")
            #expect(parts[2].hasPrefix("meshd_"))
            #expect((parts[3] == "counter") == parts[2].hasSuffix("_total"), "\(line)")
        }
    }
}
