import Consensus
import EventLog
import Logging
import MeshCore

/// Publishes applied Raft commands into the event log as `control.*` events, so every
/// member learns the applied state without joining Raft (issue 5).
///
/// - Off the reply's path and batched: a client hears its answer after Raft's fsync,
///   commit and apply; publishing follows (`ConsensusService.publishInterval` later),
///   and everything applied meanwhile goes into one event-log transaction, one fsync.
/// - At least once, nothing lost: the event log keeps, in the transaction that stores
///   them, the highest Raft index of a `control.*` event it holds, its own or one
///   received from an earlier leader (`EventLogService.controlPublished`). Entries at or
///   below it are not published again. The Raft log is durable on a majority, so
///   what was applied but not yet published when the agent died is applied again from
///   the log at start and published then; and a node that becomes leader publishes
///   what it applied as a follower above that mark (up to `maxHeld` entries). A new
///   leader that has not yet received its predecessor's last events publishes them
///   again: a duplicate carries the same `index` attribute.
actor ControlPublisher {
    /// Applied entries a follower holds in case it becomes leader before the leader's
    /// events for them arrive; beyond it the oldest go (counted in `dropped`).
    static let maxHeld = 10_000

    /// An applied command as the event it is published as.
    struct Pending: Sendable {
        var index: UInt64
        var kind: String
        var attributes: [String: String]
    }

    let eventLog: EventLogService
    let logger: Logger
    /// Applied, not yet published, above the event log's mark, in index order.
    private(set) var held: [Pending] = []
    /// Entries dropped from `held` past `maxHeld`.
    private(set) var dropped = 0

    init(eventLog: EventLogService, logger: Logger) { self.eventLog = eventLog; self.logger = logger }

    /// Takes entries applied together (in index order); publishes them, with any held
    /// from before, when `leading`, else holds them.
    func publish(_ batch: [ConsensusService.Applied], leading: Bool) async {
        let mark = await eventLog.controlPublished
        held.removeAll { $0.index <= mark }
        for a in batch where a.entry.index.value > mark && a.entry.index.value > (held.last?.index ?? 0) {
            guard let (kind, attributes) = ControlEvents.applied(a.entry, a.command, a.result) else { continue }
            held.append(Pending(index: a.entry.index.value, kind: kind, attributes: attributes))
        }
        guard leading else {
            if held.count > Self.maxHeld {
                dropped += held.count - Self.maxHeld
                held.removeFirst(held.count - Self.maxHeld)
            }
            return
        }
        guard let last = held.last?.index else { return }
        do {
            _ = try await eventLog.appendControl(held.map { ($0.kind, $0.attributes) }, through: last)
            held.removeAll { $0.index <= last }
        } catch {
            // Kept: the next batch tries them again, before its own.
            logger.warning("cannot record applied commands", metadata: ["error": "\(error)", "entries": "\(held.count)"])
        }
    }
}
