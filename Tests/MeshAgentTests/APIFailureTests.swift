@testable import MeshAgent
import EventLog
import Hummingbird
import Testing

/// What the API answers for each way the event log refuses a write: the request's fault is
/// 400, a disk that cannot take it 507 (counted), a log still refilling 503, the rest 500.
struct APIFailureTests {
    @Test func eventLogRefusalsGetTheStatusOfWhoseFaultTheyAre() {
        let full = APIFailure(EventError.storageFull("database or disk is full (in: COMMIT)"))
        #expect(full.status.code == 507)
        #expect(full.body.error == "storage_full")
        #expect(full.body.detail?.contains("disk is full") == true && full.body.detail?.contains("free space") == true, "\(full.body)")
        #expect(full.refusal == .storageFull)

        let io = APIFailure(EventError.storageIOError("disk I/O error"))
        #expect(io.status.code == 507 && io.body.error == "storage_io_error" && io.refusal == .storageIOError)

        #expect(APIFailure(EventError.invalid("kind")).status == .badRequest)
        #expect(APIFailure(EventError.tooLarge("attributes")).status == .badRequest)
        #expect(APIFailure(EventError.notReady("refilling")).status == .serviceUnavailable)
        #expect(APIFailure(EventError.storage("out of order")).status == .internalServerError)
        #expect(APIFailure(EventError.storage("out of order")).refusal == nil)
    }

    @Test func diskRefusalsAreCountedByReason() {
        let refusals = APIRefusals()
        refusals.count(.storageFull)
        refusals.count(.storageFull)
        refusals.count(.storageIOError)
        #expect(refusals.metricsText.contains(#"meshd_api_refused_total{reason="storage_full"} 2"#), "\(refusals.metricsText)")
        #expect(refusals.metricsText.contains(#"meshd_api_refused_total{reason="storage_io_error"} 1"#))
    }
}
