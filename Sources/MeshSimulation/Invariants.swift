import Membership
import MeshCore

/// The properties a run must keep. Each is checked as the run goes (or at its end) and
/// reports its first violation, with the virtual time, so the seed and the step reproduce it.
public enum Invariant: String, Sendable, CaseIterable {
    /// At the end of the warm-up every running node sees every other running node alive.
    case bootstrapConverged = "bootstrap_converged"
    /// Every crashed node is marked dead (or forgotten) by every live node within the
    /// detection bound (the scenario's `detection_max_seconds`, else memberlist's bound).
    case crashDetectedWithinBound = "crash_detected_within_bound"
    /// After a partition heals, every running node sees every other alive within the bound
    /// (the scenario's `converge_seconds`, else `InvariantDefaults.healConvergence`).
    case convergedAfterHeal = "converged_after_heal"
    /// At the end, no running node that was not recently crashed, restarted, long paused or
    /// cut off is believed dead, left or unknown by a running node.
    case noLiveNodeBelievedDead = "no_live_node_believed_dead_at_end"
    /// No datagram body exceeds `WireLimits.maxDatagramBodyBytes`.
    case datagramSize = "datagrams_within_size_limit"
    /// The byte counts are exact: audited messages encode to the size the model computed.
    case wireSizeModel = "wire_size_model_exact"
    /// The `.changed` effects a core emits describe its member table exactly (audited on a
    /// sample of observers at the end).
    case viewsMatchCores = "change_events_match_member_tables"
}

/// Default bounds of invariants a scenario does not bound itself.
public enum InvariantDefaults {
    /// Time for every running node to see every other alive after a heal.
    public static let healConvergence = Duration.seconds(120)
}

/// The first violation of each invariant, and which invariants applied to the run.
struct InvariantLog {
    var firstViolation = [String?](repeating: nil, count: Invariant.allCases.count)
    var applies = [Bool](repeating: false, count: Invariant.allCases.count)
    var violations = 0

    init() {
        for i in [Invariant.bootstrapConverged, .noLiveNodeBelievedDead, .datagramSize, .wireSizeModel, .viewsMatchCores] {
            applies[Invariant.allCases.firstIndex(of: i)!] = true
        }
    }

    private func slot(_ i: Invariant) -> Int { Invariant.allCases.firstIndex(of: i)! }

    mutating func apply(_ i: Invariant) { applies[slot(i)] = true }

    mutating func violate(_ i: Invariant, at now: Int64, _ detail: @autoclosure () -> String) {
        let s = slot(i)
        applies[s] = true
        violations += 1
        if firstViolation[s] == nil { firstViolation[s] = "t=\(Report.seconds(now))s: \(detail())" }
    }

    /// Applicable invariants in declaration order with nil (pass) or their first violation.
    var results: [(Invariant, String?)] {
        Invariant.allCases.enumerated().compactMap { i, inv in applies[i] ? (inv, firstViolation[i]) : nil }
    }
}

extension Simulation {
    /// The bound a crash's detection is held to.
    var detectionBound: Duration {
        for e in scenario.expectations where e.metric == .detectionMaxSeconds
            && (e.comparison == .lessOrEqual || e.comparison == .less) {
            return .nanoseconds(Int64(e.value * 1e9))
        }
        return .nanoseconds(Int64(Report.memberlistBound(nodes: scenario.nodes) * 1e9))
    }

    var healBound: Duration {
        for e in scenario.expectations where e.metric == .convergeSeconds
            && (e.comparison == .lessOrEqual || e.comparison == .less) {
            return .nanoseconds(Int64(e.value * 1e9))
        }
        return InvariantDefaults.healConvergence
    }

    /// Runs every `SimulationLimits.checkInterval` of virtual time.
    mutating func periodicCheck() {
        let next = now + SimulationLimits.checkInterval.nanoseconds
        if next <= endTime { queue.push(time: next, kind: .check, index: 0) }

        // Crashes not yet known everywhere past the bound.
        let bound = detectionBound.nanoseconds
        for e in observations.openList {
            let index = Int(e)
            let episode = observations.episodes[index]
            guard episode.kind == .crash, !episode.boundViolated, now - episode.start > bound else { continue }
            observations.episodes[index].boundViolated = true
            let holdout = (0 ..< slotCount).first { o in
                observations.observing[o] && o != episode.subject && !episode.isDone(observations.code(o, episode.subject))
            }
            let example = holdout.map { "n\($0) still sees it \(Observations.Code.name(observations.code($0, episode.subject)))" } ?? ""
            let detail = "n\(episode.subject) crashed at t=\(Report.seconds(episode.start))s and \(episode.pending) live nodes still do not hold it dead after \(Report.format(Duration.nanoseconds(bound).seconds))s; \(example)"
            invariants.violate(.crashDetectedWithinBound, at: now, detail)
        }

        // Convergence watches.
        var checked: Bool?
        for w in observations.watches.indices where observations.watches[w].converged < 0 {
            if checked == nil { checked = convergenceGap(limit: 1).missing == 0 }
            if checked! {
                observations.watches[w].converged = now
            } else if observations.watches[w].kind == .heal, !observations.watches[w].violated,
                      now - observations.watches[w].start > healBound.nanoseconds {
                observations.watches[w].violated = true
                let (missing, example) = convergenceGap()
                let detail = "\(Report.format(healBound.seconds))s after the heal \(missing) (observer, member) pairs still disagree, e.g. \(example)"
                invariants.violate(.convergedAfterHeal, at: now, detail)
            }
        }
    }

    /// How many (running observer, running member) pairs are not `alive`, and one example.
    /// Stops counting at `limit`.
    func convergenceGap(limit: Int = .max) -> (missing: Int, example: String) {
        var missing = 0
        var example = ""
        let slots = slotCount
        for o in 0 ..< slots where observations.observing[o] && nodes[o].state == .running {
            let base = o &* slots
            for s in 0 ..< slots where nodes[s].state == .running
                && observations.view[base &+ s] != Observations.Code.alive {
                if missing == 0 {
                    example = "n\(o) sees n\(s) \(Observations.Code.name(observations.view[base &+ s]))"
                }
                missing += 1
                if missing >= limit { return (missing, example) }
            }
        }
        return (missing, example)
    }

    /// Checks made once, when the run ends.
    mutating func finalChecks() {
        // No running node (not excused) believed dead, left or unknown.
        var offenders = 0
        var example = ""
        for s in 0 ..< slotCount where nodes[s].state == .running && now >= nodes[s].excusedUntil
            && now >= observations.partitionExcuseUntil {
            for o in 0 ..< slotCount where observations.observing[o] && o != s && network.reachable(o, s) && network.reachable(s, o) {
                let c = observations.code(o, s)
                if c == Observations.Code.dead || c == Observations.Code.left || c == Observations.Code.unknown {
                    if offenders == 0 { example = "n\(o) sees n\(s) \(Observations.Code.name(c))" }
                    offenders += 1
                }
            }
        }
        if offenders > 0 {
            invariants.violate(.noLiveNodeBelievedDead, at: now, "\(offenders) (observer, running member) pairs, e.g. \(example)")
        }

        // Audit the mirrored views against the cores' own tables.
        var audit = SeededRandom(seed: seed ^ 0xA0D1_7000)
        let running = (0 ..< slotCount).filter { observations.observing[$0] }
        for _ in 0 ..< min(SimulationLimits.viewAuditObservers, running.count) {
            let o = running[Int(audit.next() % UInt64(running.count))]
            guard let core = nodes[o].core else { continue }
            for s in 0 ..< slotCount {
                let actual = Observations.Code.of(core.member(ids[s])?.status)
                let mirrored = observations.code(o, s)
                if actual != mirrored {
                    invariants.violate(.viewsMatchCores, at: now,
                                       "n\(o)'s table says n\(s) is \(Observations.Code.name(actual)) but its change events said \(Observations.Code.name(mirrored))")
                    return
                }
            }
        }
    }
}

/// One broken invariant of an engine, with the virtual time it was seen.
public struct Violation<Invariant: Sendable>: Sendable {
    public var invariant: Invariant
    public var atSeconds: Double
    public var detail: String
}
