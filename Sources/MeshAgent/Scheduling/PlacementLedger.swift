import Foundation
import Scheduler

/// The placements this node has started, kept in the data directory (`placements`) so an
/// agent that restarts does not start an instance twice for one placement: what still
/// runs is adopted by the supervisor (its `MESHD_PLACEMENT` names the placement), and what
/// ended by its own doing (it exited and its restart policy let it be, or it was stopped
/// after `stop_after_disconnect`) stays ended. The supervisor's own state file lists only
/// running instances, so it cannot tell "ended" from "never started"; this can.
///
/// An entry goes when its placement leaves the committed state, and when the agent's own
/// graceful shutdown stops the instance (`releaseForShutdown`): that stop is the agent's,
/// not the workload's, so a placement still here when the agent returns (a one-node mesh,
/// or a restart quicker than the leader's next plan) is started again.
struct PlacementLedger: Equatable, Sendable {
    enum Outcome: String, Sendable, Equatable {
        /// Started (or adopted) by this node.
        case started
        /// Stopped by this node after `stop_after_disconnect`; reported to the leader
        /// (`released`) once the node sees a majority again.
        case stoppedDisconnected = "stopped_disconnected"
    }

    private(set) var entries: [PlacementID: Outcome] = [:]

    subscript(_ id: PlacementID) -> Outcome? {
        get { entries[id] }
        set { entries[id] = newValue }
    }

    /// Forgets the placements the committed state no longer holds. Ids at or above
    /// `nextPlacement` are kept: this replica has not applied them yet (it may be behind
    /// the state the entry was written from, e.g. just after a restart).
    mutating func prune(keeping live: Set<PlacementID>, nextPlacement: UInt64) {
        entries = entries.filter { live.contains($0.key) || $0.key.value >= nextPlacement }
    }

    // MARK: Text form

    static let header = "meshd-placements-v1"

    /// One line per entry after the header: `ID OUTCOME` (`7 started`), in id order.
    var text: String {
        ([Self.header] + entries.sorted { $0.key < $1.key }.map { "\($0.key.value) \($0.value.rawValue)" })
            .joined(separator: "\n") + "\n"
    }

    init() {}

    /// Parses `text`; a malformed file is an error naming the line (the agent then starts
    /// with an empty ledger and says so).
    init(parsing text: String) throws(LedgerError) {
        let lines = text.split(whereSeparator: \.isNewline)
        guard lines.first == Substring(Self.header) else { throw .malformed(line: 1) }
        for (n, line) in lines.enumerated().dropFirst() {
            let words = line.split(separator: " ")
            guard words.count == 2, let id = UInt64(words[0]), let outcome = Outcome(rawValue: String(words[1])) else {
                throw .malformed(line: n + 1)
            }
            entries[PlacementID(id)] = outcome
        }
    }

    enum LedgerError: Error, Equatable, CustomStringConvertible {
        case malformed(line: Int)
        case io(String)
        var description: String {
            switch self {
            case let .malformed(line): "line \(line) is not `ID started|stopped_disconnected`"
            case let .io(reason): reason
            }
        }
    }

    // MARK: File

    /// Loads the ledger at `path`; an absent file is an empty ledger.
    static func load(_ path: String) throws(LedgerError) -> PlacementLedger {
        guard FileManager.default.fileExists(atPath: path) else { return PlacementLedger() }
        guard let data = FileManager.default.contents(atPath: path) else { throw .io("\(path): cannot read") }
        return try PlacementLedger(parsing: String(decoding: data, as: UTF8.self))
    }

    /// Replaces the file at `path`: a temporary file, synced, renamed over it, so a crash
    /// leaves the old or the new one.
    func save(_ path: String) throws(LedgerError) {
        let temporary = path + ".tmp"
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .io("\(temporary): \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        let ok = write(fd, bytes, bytes.count) == bytes.count && fsync(fd) == 0
        let reason = String(cString: strerror(errno))
        close(fd)
        guard ok else { unlink(temporary); throw .io("\(temporary): \(reason)") }
        guard rename(temporary, path) == 0 else { throw .io("\(path): cannot replace: \(String(cString: strerror(errno)))") }
    }
}
