import Foundation
import MeshCore

/// Lifeguard's dynamic suspicion timer (Lifeguard §IV-A, memberlist `suspicion.go`).
///
/// A fresh suspicion waits the longest timeout; each independent confirmation (another
/// member suspecting the same incarnation) shrinks it logarithmically toward the minimum:
/// `timeout(c) = max(min, max − (max − min) · log(c + 1) / log(k + 1))`.
struct Suspicion: Sendable {
    let start: MeshTime
    /// The member whose suspicion started this one (the last call repeats it).
    let accuser: NodeID
    let minTimeout: Duration
    let maxTimeout: Duration
    /// Confirmations after which the minimum applies.
    let expectedConfirmations: Int
    private(set) var confirmers: Set<NodeID>
    /// Whether the suspicion was gossiped once more shortly before its deadline.
    var lastCallSent = false

    init(start: MeshTime, from: NodeID, minTimeout: Duration, maxTimeout: Duration, expectedConfirmations: Int) {
        self.start = start; self.minTimeout = minTimeout; self.maxTimeout = maxTimeout
        self.expectedConfirmations = expectedConfirmations
        accuser = from
        confirmers = [from]
    }

    /// Records a confirmation; true when it came from a member not heard before.
    mutating func confirm(from: NodeID) -> Bool {
        guard confirmers.count <= expectedConfirmations else { return false }
        return confirmers.insert(from).inserted
    }

    var confirmations: Int { confirmers.count - 1 }

    /// When to send the last call: `lead` before the deadline, or at once when less is left.
    func lastCall(lead: Duration) -> MeshTime { deadline - lead }

    var deadline: MeshTime {
        guard expectedConfirmations > 0 else { return start + minTimeout }
        let c = Double(min(confirmations, expectedConfirmations))
        let fraction = log(c + 1) / log(Double(expectedConfirmations) + 1)
        let span = Double((maxTimeout - minTimeout).nanoseconds)
        let timeout = max(minTimeout.nanoseconds, maxTimeout.nanoseconds - Int64(span * fraction))
        return start + .nanoseconds(timeout)
    }
}
