import MeshCore

/// What to do after an instance exited by itself.
enum RestartDecision: Equatable {
    /// Leave it exited (the policy says so).
    case stay
    case restart(attempt: Int, delay: Duration)
    case fail(reason: String)
}

/// The restart rule of one instance: policy, exponential backoff, and a limit of restarts in
/// a window. Pure: it is handed the exit, how long the process ran and the time.
struct RestartPlanner: Equatable {
    var base: Duration
    var cap: Duration
    var resetAfter: Duration
    var limit: Int
    var window: Duration
    /// Consecutive restarts (reset after a long enough run).
    private(set) var attempt = 0
    /// Times of restarts still inside the window.
    private(set) var recent: [MeshTime] = []

    init(settings: SupervisorSettings) {
        base = settings.restartBackoffBase
        cap = settings.restartBackoffCap
        resetAfter = settings.restartBackoffResetAfter
        limit = settings.restartLimit
        window = settings.restartWindow
    }

    /// Total restarts still counted in the window.
    var restarts: Int { recent.count }

    mutating func decide(after status: ExitStatus, policy: RestartPolicy, ranFor: Duration, now: MeshTime) -> RestartDecision {
        switch policy {
        case .never: return .stay
        case .onFailure where status.isSuccess: return .stay
        default: break
        }
        if ranFor >= resetAfter { attempt = 0 }
        recent.removeAll { now - $0 >= window }
        if recent.count >= limit {
            return .fail(reason: "restarted \(recent.count) times within \(Int(window.seconds)) s (limit \(limit)); last \(status)")
        }
        attempt += 1
        recent.append(now)
        return .restart(attempt: attempt, delay: delay(forAttempt: attempt))
    }

    /// base * 2^(attempt-1), capped.
    func delay(forAttempt attempt: Int) -> Duration {
        let shift = min(attempt - 1, 40)
        let ns = base.nanoseconds.multipliedReportingOverflow(by: Int64(1) << shift)
        return ns.overflow ? cap : min(.nanoseconds(ns.partialValue), cap)
    }

    /// A start by request forgets the past.
    mutating func reset() { attempt = 0; recent = [] }
}
