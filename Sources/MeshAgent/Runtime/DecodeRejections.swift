import MeshWire
import Synchronization

/// Frames that opened and verified but whose body a service could not decode, by reason.
/// A service decodes its frames on its own thread and counts here; the runtime adds these
/// to its own (`meshd_frames_rejected_total`, the `agent.frames_rejected` summary), so a
/// malformed event or Raft message is counted where a malformed membership message is.
final class DecodeRejections: Sendable {
    private let counts = Mutex(RejectCounters())
    func record(_ reason: RejectReason) { counts.withLock { $0.record(reason) } }
    var snapshot: RejectCounters { counts.withLock { $0 } }
}
