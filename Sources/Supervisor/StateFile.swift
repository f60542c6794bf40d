import Foundation

/// What survives an agent restart: the instances that were running, each named by pid and
/// process start time (field 22 of /proc/PID/stat) so that a reused pid is not mistaken
/// for ours. Written atomically (temporary file, fsync, rename) with mode 0600, since specs
/// may carry secrets in their environment.
struct StateFile {
    struct Entry: Codable, Equatable {
        var id: InstanceID
        var spec: ProcessSpec
        var pid: Int32
        var startTime: UInt64
    }

    struct Contents: Codable {
        var version = 1
        var instances: [Entry]
    }

    let path: String

    func load() throws(SupervisorError) -> [Entry] {
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            return try JSONDecoder().decode(Contents.self, from: data).instances
        } catch {
            throw .stateFile(path: path, reason: "unreadable (\(error)); move it aside to start without adopting")
        }
    }

    func save(_ entries: [Entry]) throws(SupervisorError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data: Data
        do { data = try encoder.encode(Contents(instances: entries)) } catch {
            throw .stateFile(path: path, reason: "cannot encode: \(error)")
        }
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .stateFile(path: path, reason: "cannot create: \(String(cString: strerror(errno)))") }
        fchmod(fd, 0o600)
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == data.count, synced else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw .stateFile(path: path, reason: "cannot write: \(reason)")
        }
        guard rename(temporary, path) == 0 else {
            throw .stateFile(path: path, reason: "cannot replace: \(String(cString: strerror(errno)))")
        }
    }
}
