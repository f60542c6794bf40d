@testable import Supervisor
import Testing

/// Events become event-log entries: kinds in the log's alphabet, attributes small and flat.
@Suite struct EventTests {
    @Test func namesAndAttributesFitTheEventLog() {
        let id: InstanceID = "web.0"
        let long = String(repeating: "é", count: 400)
        let samples: [SupervisorEvent.Kind] = [
            .started(pid: 42), .exited(.exited(code: 3)), .exited(.signaled(signal: 9)), .exited(.unknown),
            .restarting(attempt: 2, delay: .milliseconds(1500)), .failed(reason: long), .stopped(nil),
            .adopted(pid: 7), .startFailed(.workingDirectoryMissing(long)), .logWriteFailed(stream: .stderr, reason: "ENOSPC"),
            .logWriteRecovered(stream: .stdout), .stateNotSaved(reason: "EROFS"),
        ]
        for kind in samples {
            let e = SupervisorEvent(instance: id, kind: kind)
            #expect(e.name.hasPrefix("instance."))
            #expect(e.name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7a) || $0 == 0x2e || $0 == 0x5f })
            #expect(e.attributes["instance"] == "web.0")
            #expect(e.attributes.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count } <= 900)
        }
        #expect(SupervisorEvent(instance: id, kind: .exited(.exited(code: 3))).attributes == ["instance": "web.0", "exit_code": "3"])
        #expect(SupervisorEvent(instance: id, kind: .restarting(attempt: 2, delay: .milliseconds(1500))).attributes
                == ["instance": "web.0", "attempt": "2", "delay_ms": "1500"])
    }

    @Test func instanceNamesAreChecked() {
        let bad = "../etc", empty = "", good = "web-api_2.10"
        #expect(throws: SupervisorError.invalidInstanceName(bad)) { try InstanceID(bad) }
        #expect(throws: SupervisorError.invalidInstanceName(empty)) { try InstanceID(empty) }
        #expect((try? InstanceID(good)) != nil)
    }
}
