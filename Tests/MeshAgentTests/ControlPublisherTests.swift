import Consensus
import EventLog
import Foundation
import Logging
@testable import MeshAgent
import MeshCore
import MeshWire
import Testing

/// Applied Raft commands become `control.*` events: in batches, once each, and again
/// after a crash between apply and publish.
@Suite(.serialized) struct ControlPublisherTests {
    let dir = NSTemporaryDirectory() + "meshd-publisher-\(UUID().uuidString)"
    let key = SigningKeyPair(seed: [UInt8](repeating: 71, count: 32))!
    init() { try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }

    func openLog(_ name: String = "events.db") async throws -> EventLogService {
        let log = try EventLogService(storePath: "\(dir)/\(name)", identity: key, settings: .local,
                                      transport: LoopbackTransport(mesh: LoopbackMesh(), me: key.nodeID),
                                      now: clockNow, wallMilliseconds: wallNow, logger: Logger(label: "test"))
        await log.assumeOwnHistoryComplete()
        return log
    }

    /// Entries as Raft applies them: a command at each of `indexes` (a no-op, with no command, at 0 mod 5).
    /// Every one becomes an event (the no-op `control.term_started`), so a member applying
    /// them knows the indexes have no gap.
    func applied(_ indexes: ClosedRange<UInt64>) -> [ConsensusService.Applied] {
        indexes.map { i in
            let command = ControlCommand(.setVar(key: "k\(i)", value: "v\(i)"), requester: "test", via: key.nodeID)
            let noop = i % 5 == 0
            return ConsensusService.Applied(entry: LogEntry(term: Term(1), index: LogIndex(i), kind: .command, command: noop ? [] : command.encoded),
                                            command: noop ? nil : command, result: .ok)
        }
    }

    func controlIndexes(_ log: EventLogService, kind: String = "control.") async throws -> [UInt64] {
        try await log.query(EventQuery(kindPrefix: kind)).compactMap { $0.attributes["index"].flatMap(UInt64.init) }
    }

    @Test func aLeaderPublishesABatchInOneTransactionAndRaisesTheMark() async throws {
        let log = try await openLog()
        let publisher = ControlPublisher(eventLog: log, logger: Logger(label: "test"))
        await publisher.publish(applied(1 ... 7), leading: true)
        #expect(try await controlIndexes(log) == [1, 2, 3, 4, 5, 6, 7])
        #expect(await log.controlPublished == 7)
        // The same entries again (Raft applying its log anew after a restart) add nothing.
        await publisher.publish(applied(1 ... 7), leading: true)
        #expect(try await controlIndexes(log) == [1, 2, 3, 4, 5, 6, 7])
        let events = try await log.query(EventQuery(kindPrefix: "control.var.set"))
        #expect(events.first?.attributes["key"] == "k1" && events.first?.attributes["value"] == "v1")
    }

    /// The agent died after applying entries 4...9 (the client had its answers) but before
    /// publishing them: at the next start Raft applies its log again from the snapshot, and
    /// what lies above the durable mark is published then, once.
    @Test func aCrashBetweenApplyAndPublishIsRepairedAtTheNextStart() async throws {
        do {
            let log = try await openLog()
            let publisher = ControlPublisher(eventLog: log, logger: Logger(label: "test"))
            await publisher.publish(applied(1 ... 3), leading: true)
            await log.stop()
        }
        let log = try await openLog()   // the same file, as after a restart
        #expect(await log.controlPublished == 3)
        let publisher = ControlPublisher(eventLog: log, logger: Logger(label: "test"))
        // The restarted node applies 1...9 before it knows it leads: held, not published.
        await publisher.publish(applied(1 ... 9), leading: false)
        #expect(try await controlIndexes(log) == [1, 2, 3])
        // Leading, its next applied entry (the new term's no-op) publishes everything held.
        await publisher.publish(applied(10 ... 10), leading: true)
        #expect(try await controlIndexes(log) == Array(1 ... 10))
        #expect(await log.controlPublished == 10)
    }

    /// A follower holds what it applies; what the leader's events already cover (the mark,
    /// raised as they are received) is dropped, the rest it publishes when it leads.
    @Test func aNewLeaderPublishesOnlyWhatItsPredecessorDidNot() async throws {
        let log = try await openLog()
        let publisher = ControlPublisher(eventLog: log, logger: Logger(label: "test"))
        await publisher.publish(applied(1 ... 6), leading: false)
        #expect(await publisher.held.map(\.index) == [1, 2, 3, 4, 5, 6])
        // The old leader's events through 4 arrived here (stands in for `receive`).
        _ = try await log.appendControl([], through: 4)
        await publisher.publish(applied(7 ... 8), leading: true)
        #expect(try await controlIndexes(log) == [5, 6, 7, 8])
        #expect(await publisher.held.isEmpty)
    }

    /// End to end through `ConsensusService`: writes answered, then the agent stops before
    /// publishing; reopened on the same files, the lone node leads again and publishes them.
    @Test func writesAnsweredBeforeACrashAreStillPublishedAfterIt() async throws {
        let raftPath = "\(dir)/raft.db"
        func open() throws -> ConsensusService {
            try ConsensusService(id: key.nodeID, storagePath: raftPath, bootstrap: true, settings: .lan, policy: VoterPolicy(),
                                 transport: LoopbackTransport(mesh: LoopbackMesh(), me: key.nodeID), now: clockNow,
                                 logger: Logger(label: "test"))
        }
        var indexes: [UInt64] = []
        do {
            let s = try open()
            await s.setOnApplied { _ in }      // the publisher never gets to run: the crash
            await s.start()
            #expect(await eventually("the lone node leads") { await s.status.role == .leader })
            for i in 0 ..< 5 {
                guard case let .success(index) = await s.submit(.setVar(key: "k\(i)", value: "v"), requester: "test") else {
                    Issue.record("write \(i) refused"); return
                }
                indexes.append(index.value)
            }
            await s.stop()
        }
        let log = try await openLog()
        let publisher = ControlPublisher(eventLog: log, logger: Logger(label: "test"))
        let s = try open()
        await s.setOnApplied { batch in await publisher.publish(batch, leading: await s.status.role == .leader) }
        await s.start()
        #expect(await eventually("the answered writes published") { (try? await controlIndexes(log, kind: "control.var.set")) == indexes })
        await s.stop()
    }
}
