import MeshCore
import Testing

struct PrometheusTextTests {
    @Test func writesHelpTypeAndEscapedLabels() {
        var p = PrometheusText()
        p.family("meshd_frames_rejected_total", .counter, help: "Frames refused.",
                 [(labels: [("reason", "bad\"quote")], value: 3), (labels: [("reason", "replayed")], value: 0)])
        p.family("meshd_rtt_seconds", .gauge, help: "A gauge.", value: 0.25)
        #expect(p.text == """
        # HELP meshd_frames_rejected_total Frames refused.
        # TYPE meshd_frames_rejected_total counter
        meshd_frames_rejected_total{reason="bad\\"quote"} 3
        meshd_frames_rejected_total{reason="replayed"} 0
        # HELP meshd_rtt_seconds A gauge.
        # TYPE meshd_rtt_seconds gauge
        meshd_rtt_seconds 0.25

        """)
    }
}
