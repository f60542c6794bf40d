import Foundation
import MeshAPI
import MeshClient
import Testing

/// Nothing acknowledged is lost on SIGKILL: writers post events to a real agent, the agent
/// is killed mid-write, restarted on the same data directory, and must hold every event
/// whose `POST /v1/events` was answered `201` (the store commits with `synchronous=FULL`
/// before the answer).
extension ClusterE2ETests {
@Suite struct EventDurability {
    /// Concurrent writers, so the kill lands while commits are in flight.
    static let writers = 4
    /// Acknowledged events before the kill.
    static let acknowledgedBeforeKill = 150

    @Test func everyAcknowledgedEventSurvivesSIGKILLMidWrite() async throws {
        let c = try await MeshCluster(count: 1, prefix: "d")
        defer { c.shutdown() }
        let agent = c.agents[0]
        let client = c.client(0)
        let acknowledged = Acknowledged()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for w in 0 ..< Self.writers {
                group.addTask {
                    var k = 0
                    while true {
                        let id = "\(w)-\(k)"
                        do {
                            _ = try await client.post("/v1/events", body: EventSendRequest(kind: "user.durable", attributes: ["id": id]))
                        } catch { return }      // the agent is gone
                        await acknowledged.add(id)
                        k += 1
                    }
                }
            }
            let deadline = ContinuousClock.now + .seconds(60)
            while await acknowledged.count < Self.acknowledgedBeforeKill, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
            kill(agent.process.processIdentifier, SIGKILL)
            agent.process.waitUntilExit()
            try await group.waitForAll()
        }
        let acked = await acknowledged.ids
        #expect(acked.count >= Self.acknowledgedBeforeKill)

        try await c.startAgent(name: c.names[0], dataDir: agent.dataDir)
        let data = try await c.client(0).get("/v1/events", query: [("kind", "user.durable"), ("limit", "10000")])
        let stored = Set(try APIClient.decode([EventInfo].self, data).compactMap { $0.attributes["id"] })
        let lost = acked.subtracting(stored)
        #expect(lost.isEmpty, "\(lost.count) of \(acked.count) acknowledged events lost, e.g. \(lost.sorted().prefix(5))")
        // Sequences stay gap-free across the kill: the restarted agent continues them.
        let after = try APIClient.decode(EventInfo.self, try await c.client(0).post("/v1/events", body: EventSendRequest(kind: "user.after", attributes: [:])))
        let all = try APIClient.decode([EventInfo].self, try await c.client(0).get("/v1/events", query: [("node", c.names[0]), ("limit", "10000")]))
        #expect(Set(all.map(\.seq)) == Set(1 ... after.seq))
    }

    /// Oversized, malformed and reserved events posted to the API are refused with 400 and
    /// change nothing; the good ones around them are kept.
    @Test func badEventsPostedAreRefusedAndTheGoodOnesKept() async throws {
        let c = try await MeshCluster(count: 1, prefix: "b")
        defer { c.shutdown() }
        let client = c.client(0)
        func status(_ request: EventSendRequest) async -> Int {
            do { _ = try await client.post("/v1/events", body: request); return 201 } catch {
                if case let .server(code, _) = error { return code }
                return -1
            }
        }
        #expect(await status(EventSendRequest(kind: "user.good", attributes: ["n": "1"])) == 201)
        #expect(await status(EventSendRequest(kind: "user.big", attributes: ["v": String(repeating: "x", count: 2000)])) == 400)
        #expect(await status(EventSendRequest(kind: "Not A Kind", attributes: [:])) == 400)
        #expect(await status(EventSendRequest(kind: "member.dead", attributes: ["member": "b0"])) == 400)
        #expect(await status(EventSendRequest(kind: "user.good", attributes: ["n": "2"])) == 201)
        let events = try APIClient.decode([EventInfo].self, try await client.get("/v1/events", query: [("kind", "user.")]))
        #expect(events.map(\.kind) == ["user.good", "user.good"])
        #expect(events.map { $0.attributes["n"] } == ["1", "2"])
        // Refused posts use no sequence number: this node's sequence stays gap-free.
        let mine = try APIClient.decode([EventInfo].self, try await client.get("/v1/events", query: [("node", c.names[0])]))
        #expect(mine.map(\.seq).sorted() == Array(1 ... UInt64(mine.count)))
    }
}
}

/// The ids whose POST was answered.
private actor Acknowledged {
    var ids: Set<String> = []
    var count: Int { ids.count }
    func add(_ id: String) { ids.insert(id) }
}
