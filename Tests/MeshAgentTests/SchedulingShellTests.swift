import Consensus
import Foundation
@testable import MeshAgent
import MeshCore
import Scheduler
import Testing

/// The pure parts of the node reconciler: its ledger of started placements and when a
/// wake-up is worth a pass.
struct SchedulingShellTests {
    @Test func theLedgerRoundTripsItsFileAndRefusesAMalformedOne() throws {
        var ledger = PlacementLedger()
        ledger[PlacementID(7)] = .started
        ledger[PlacementID(3)] = .stoppedDisconnected
        #expect(ledger.text == "meshd-placements-v1\n3 stopped_disconnected\n7 started\n")
        #expect(try PlacementLedger(parsing: ledger.text) == ledger)

        let dir = NSTemporaryDirectory() + "meshd-ledger-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try PlacementLedger.load(dir + "/placements") == PlacementLedger(), "no file: an empty ledger")
        try ledger.save(dir + "/placements")
        #expect(try PlacementLedger.load(dir + "/placements") == ledger)
        #expect(!FileManager.default.fileExists(atPath: dir + "/placements.tmp"))

        #expect(throws: PlacementLedger.LedgerError.malformed(line: 1)) { try PlacementLedger(parsing: "7 started\n") }
        #expect(throws: PlacementLedger.LedgerError.malformed(line: 3)) {
            try PlacementLedger(parsing: "meshd-placements-v1\n7 started\nseven started\n")
        }
        #expect(throws: PlacementLedger.LedgerError.malformed(line: 2)) { try PlacementLedger(parsing: "meshd-placements-v1\n7 running\n") }
    }

    @Test func theLedgerForgetsGonePlacementsButNotOnesThisReplicaHasNotSeenYet() {
        var ledger = PlacementLedger()
        for id in [2, 5, 9, 12] as [UInt64] { ledger[PlacementID(id)] = .started }
        // The replica holds p5 and has handed out ids below 10: p2 and p9 are gone; p12 is
        // newer than this replica (just restarted, still catching up).
        ledger.prune(keeping: [PlacementID(5)], nextPlacement: 10)
        #expect(ledger.entries.keys.sorted() == [PlacementID(5), PlacementID(12)])
    }

    @Test func aWakeUpReconcilesOnlyWhenSomethingMoved() {
        var trigger = ReconcileTrigger()
        func wake(_ signals: ReconcileTrigger.Signals, at seconds: Int64, due: Bool = false, reports: Bool = false) -> Bool {
            trigger.shouldReconcile(signals, now: MeshTime(nanoseconds: seconds * 1_000_000_000), due: due,
                                    reportsOutstanding: reports, fullPassAfter: .seconds(60))
        }
        let idle = ReconcileTrigger.Signals(applied: LogIndex(10), instanceChanges: 4, disconnectedSince: nil)
        var pass = wake(idle, at: 0)
        #expect(pass, "the first wake-up")
        pass = wake(idle, at: 10)
        #expect(!pass, "nothing moved")
        var moved = idle; moved.applied = LogIndex(11)
        pass = wake(moved, at: 11)
        #expect(pass, "an entry applied")
        moved.instanceChanges = 5
        pass = wake(moved, at: 12)
        #expect(pass, "an instance changed")
        moved.disconnectedSince = MeshTime(nanoseconds: 12)
        pass = wake(moved, at: 13)
        #expect(pass, "cut off")
        pass = wake(moved, at: 14, due: true)
        #expect(pass, "a stop fell due")
        pass = wake(moved, at: 15, reports: true)
        #expect(pass, "a report to resend")
        pass = wake(moved, at: 74)
        #expect(!pass)
        pass = wake(moved, at: 75)
        #expect(pass, "the backstop")
    }
}
