import Consensus
import Foundation
import Logging
import MeshCore

/// What the agent does when its Raft storage (`raft.db`) is found damaged at start: it
/// never votes with bad state, and it does not stop either. The damaged files are kept
/// aside for inspection (`raft.db.damaged-<UTC time>`, with their `-wal`/`-shm`), a fresh
/// store is made, and the node starts *abstaining* (`RaftNode.abstaining`): it neither
/// votes nor campaigns until the leader has removed it from the voters, then it refills
/// as a learner and may be promoted again.
///
/// A marker file (`raft.abstaining`) records the abstention across restarts: a fresh,
/// empty store must not pass for a new node's while the node may still be listed as a
/// voter with votes it cast before the damage. The agent removes the marker once the core
/// stops abstaining.
enum RaftStorageRecovery {
    static let databaseFile = "raft.db"
    static let markerFile = "raft.abstaining"
    /// SQLite's companions of a database file in WAL mode, moved aside with it.
    static let companionSuffixes = ["", "-wal", "-shm"]

    static func databasePath(_ dataDir: String) -> String { "\(dataDir)/\(databaseFile)" }
    static func markerPath(_ dataDir: String) -> String { "\(dataDir)/\(markerFile)" }

    /// Whether an earlier start reset the storage and the node still abstains.
    static func isAbstaining(dataDir: String) -> Bool { FileManager.default.fileExists(atPath: markerPath(dataDir)) }

    /// Moves the damaged database (and its WAL and shared-memory files) aside and writes
    /// the marker; returns the path the database was moved to.
    static func setAside(dataDir: String, reason: String, at date: Date = Date()) throws -> String {
        let stamp = ISO8601DateFormatter.compactUTC.string(from: date)
        let source = databasePath(dataDir)
        var aside = "\(source).damaged-\(stamp)"
        var n = 1
        while FileManager.default.fileExists(atPath: aside) { n += 1; aside = "\(source).damaged-\(stamp)-\(n)" }
        for suffix in companionSuffixes where FileManager.default.fileExists(atPath: source + suffix) {
            try FileManager.default.moveItem(atPath: source + suffix, toPath: aside + suffix)
        }
        let note = "raft storage reset at \(stamp): \(reason)\nthe damaged file is \(aside)\n"
        guard FileManager.default.createFile(atPath: markerPath(dataDir), contents: Data(note.utf8),
                                             attributes: [.posixPermissions: 0o600]) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: markerPath(dataDir)])
        }
        return aside
    }

    /// Removes the marker once the node no longer abstains.
    static func clearMarker(dataDir: String) {
        try? FileManager.default.removeItem(atPath: markerPath(dataDir))
    }
}

extension ISO8601DateFormatter {
    /// `20261127T182600Z`: a timestamp fit for a file name.
    nonisolated(unsafe) static let compactUTC: ISO8601DateFormatter = {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withYear, .withMonth, .withDay, .withTime, .withTimeZone]
        return f
    }()
}

extension ConsensusService {
    /// What `open` found: the service, and when the storage was damaged, why and where
    /// the damaged file was kept.
    struct Opened {
        let service: ConsensusService
        let reset: (reason: String, keptAt: String)?
    }

    /// Opens Raft in `dataDir`; damaged storage is set aside and the node starts empty
    /// and abstaining (see `RaftStorageRecovery`). Other failures (a full disk, no
    /// permission) are thrown: starting empty would not cure them.
    static func open(dataDir: String, id: NodeID, bootstrap: Bool, settings: RaftSettings, policy: VoterPolicy,
                     transport: any MeshTransport, now: @escaping @Sendable () -> MeshTime, logger: Logger) throws -> Opened {
        let path = RaftStorageRecovery.databasePath(dataDir)
        let abstaining = RaftStorageRecovery.isAbstaining(dataDir: dataDir)
        do {
            let service = try ConsensusService(id: id, storagePath: path, bootstrap: bootstrap && !abstaining, settings: settings,
                                               policy: policy, transport: transport, now: now, logger: logger,
                                               abstaining: abstaining)
            return Opened(service: service, reset: nil)
        } catch {
            guard case let .corrupt(why) = error else { throw error }
            let kept = try RaftStorageRecovery.setAside(dataDir: dataDir, reason: why)
            logger.error("raft storage is damaged; kept it aside and starting empty, abstaining until the leader has removed this node from the voters",
                         metadata: ["reason": "\(why)", "kept": "\(kept)"])
            let service = try ConsensusService(id: id, storagePath: path, bootstrap: false, settings: settings, policy: policy,
                                               transport: transport, now: now, logger: logger, abstaining: true)
            return Opened(service: service, reset: (why, kept))
        }
    }
}
