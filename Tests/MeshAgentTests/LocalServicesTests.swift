import Foundation
import MeshAPI
@testable import MeshAgent
import Supervisor
import Testing

/// The pure parts of the node layer: start-request validation, the event-log shape of
/// supervisor events, and the node-query wire format.
struct LocalServicesTests {
    @Test func aValidRequestBecomesNameDotInstanceAndItsSpec() throws {
        let (id, spec) = try SupervisorService.spec(from: InstanceStartRequest(
            name: "web", instance: "2", command: "python3", args: ["-m", "http.server"], env: ["PORT": "8000"],
            workdir: "/tmp", restart: "always", graceSeconds: 2.5, surviveAgent: true))
        #expect(id.rawValue == "web.2")
        #expect(spec.command == "python3" && spec.arguments == ["-m", "http.server"] && spec.environment == ["PORT": "8000"])
        #expect(spec.workingDirectory == "/tmp" && spec.restartPolicy == .always && spec.survivesAgent)
        #expect(spec.stopGracePeriod == .milliseconds(2500))
        let (defaultID, defaults) = try SupervisorService.spec(from: InstanceStartRequest(name: "job", command: "true"))
        #expect(defaultID.rawValue == "job.0" && defaults.restartPolicy == .onFailure && !defaults.survivesAgent)
        #expect(defaults.stopGracePeriod == nil)
    }

    /// API times are ISO 8601 in UTC with milliseconds, formatted without ICU.
    @Test func apiTimesAreISO8601WithMilliseconds() {
        #expect(APITime.iso8601(milliseconds: 1_764_270_078_123) == "2025-11-27T19:01:18.123Z")
        #expect(APITime.iso8601(milliseconds: 1_764_270_078_007) == "2025-11-27T19:01:18.007Z")
        #expect(APITime.iso8601(milliseconds: 0) == "1970-01-01T00:00:00.000Z")
    }

    @Test(arguments: [
        InstanceStartRequest(name: "", command: "true"),
        InstanceStartRequest(name: "a.b", command: "true"),
        InstanceStartRequest(name: "a", instance: "x/y", command: "true"),
        InstanceStartRequest(name: "a", command: "  "),
        InstanceStartRequest(name: "a", command: "true", restart: "sometimes"),
        InstanceStartRequest(name: "a", command: "true", graceSeconds: -1),
        InstanceStartRequest(name: "a", command: "true", workdir: "/no/such/dir/here"),
    ])
    func badRequestsAreRefusedWithAReason(_ request: InstanceStartRequest) {
        #expect(throws: SupervisorService.StartRefusal.self) { try SupervisorService.spec(from: request) }
    }

    @Test func supervisorEventsBecomeWorkloadEventsWithTheWorkloadName() {
        let (kind, attributes) = SupervisorService.eventLogEntry(SupervisorEvent(instance: "web.0", kind: .exited(.exited(code: 3))))
        #expect(kind == "workload.exited")
        #expect(attributes == ["instance": "web.0", "workload": "web", "exit_code": "3"])
        let (failed, why) = SupervisorService.eventLogEntry(SupervisorEvent(instance: "db.1", kind: .startFailed(.workingDirectoryMissing("/x"))))
        #expect(failed == "workload.start_failed" && why["error"]?.contains("/x") == true && why["workload"] == "db")
        let (killed, signal) = SupervisorService.eventLogEntry(SupervisorEvent(instance: "a.0", kind: .stopped(.signaled(signal: 9))))
        #expect(killed == "workload.stopped" && signal["signal"] == "9")
    }

    @Test func nodeQueriesAndRepliesRoundTrip() throws {
        let query = NodeQuery.logs(LogRequest(instance: "web.0", stream: .stderr, tailLines: 10,
                                              cursor: LogCursor(offset: 7), maxBytes: 100))
        #expect(NodeQuery.decode(query.encoded) == query)
        #expect(NodeQuery.decode(Array("{\"nope\":1}".utf8)) == nil)
        let reply = NodeReply.logs(LogChunkReply(data: Data([0, 1, 255]), next: LogCursor(offset: 3), resumedAt: LogCursor(offset: 1)))
        #expect(try JSONDecoder().decode(NodeReply.self, from: Data(reply.encoded)) == reply)
    }
}
