import Consensus
import MeshCore

/// When a node's reconciler wake-up is worth a pass: only when something it reconciles
/// may have moved. A pass copies the workload state and lists the supervisor's instances;
/// an idle node wakes on the slow timer and does neither.
struct ReconcileTrigger: Sendable, Equatable {
    /// What is read cheaply before a pass.
    struct Signals: Sendable, Equatable {
        /// The replica's applied index: a new entry may change the placements here.
        var applied: LogIndex
        /// Supervisor events so far: an instance started, exited, failed or was stopped.
        var instanceChanges: UInt64
        /// Since when the node has seen no majority of voters (`DisconnectWatch.since`).
        var disconnectedSince: MeshTime?
    }

    private var last: Signals?
    private var lastPass: MeshTime?

    /// Whether to reconcile now: the signals moved since the last pass, a
    /// `stop_after_disconnect` fell `due`, reports wait to be sent again, or the last pass
    /// is `fullPassAfter` old (the backstop). Records the pass when it answers yes.
    mutating func shouldReconcile(_ signals: Signals, now: MeshTime, due: Bool, reportsOutstanding: Bool,
                                  fullPassAfter: Duration = SchedulingSettings.reconcileInterval * SchedulingSettings.fullPassEvery) -> Bool {
        let stale = lastPass.map { now - $0 >= fullPassAfter } ?? true
        guard signals != last || due || reportsOutstanding || stale else { return false }
        last = signals
        lastPass = now
        return true
    }
}
