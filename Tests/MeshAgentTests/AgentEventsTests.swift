@testable import MeshAgent
import Testing

struct AgentEventsTests {
    @Test func rejectedFramesSummaryCountsOnlyWhatIsNewAndOnlyWhenNonZero() throws {
        #expect(AgentEvents.rejectedFrames(now: [:], previous: [:], intervalSeconds: 60) == nil)
        #expect(AgentEvents.rejectedFrames(now: ["replayed": 3], previous: ["replayed": 3], intervalSeconds: 60) == nil)
        let s = try #require(AgentEvents.rejectedFrames(now: ["replayed": 5, "undecryptable": 2, "oversized": 1],
                                                        previous: ["replayed": 3, "oversized": 1], intervalSeconds: 60))
        #expect(s.kind == "agent.frames_rejected")
        #expect(s.attributes == ["replayed": "2", "undecryptable": "2", "total": "4", "interval_s": "60"])
    }
}
