import Consensus
import EventLog
import NIOCore
import NIOPosix
import Synchronization
import Logging
import MeshCore
import MeshWire

/// Handing applied entries to the event log (`onApplied`), and holding new commands back
/// while it lags (`maxUnpublishedApplied`).
extension ConsensusService {
    /// The next batch to publish; signals again when more are left for the next one.
    func takeToPublish() -> [Applied] {
        let batch = Array(toPublish.prefix(Self.maxPublishBatch))
        toPublish.removeFirst(batch.count)
        if !toPublish.isEmpty { publishSignal.yield() }
        return batch
    }

    func published(_ count: Int) {
        unpublished -= count
        if unpublished < maxUnpublishedApplied { admitWaiters.wakeAll() }
    }

    /// Calls `then(true)` once the event log is no more than `maxUnpublishedApplied`
    /// entries behind (at once when it is not), `then(false)` if it stays behind for
    /// `commandTimeout`.
    func whenAdmitted(_ then: @escaping (Bool) -> Void) {
        guard unpublished >= maxUnpublishedApplied else { return then(true) }
        let id = admitWaiters.add(then)
        onOwnThread(after: Self.commandTimeout) { $0.admitWaiters.expire(id) }
    }

    /// Commands waiting for the event log to catch up.
    var admitting: Int { admitWaiters.count }
}
