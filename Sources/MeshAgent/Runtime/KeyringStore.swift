import Foundation
import MeshWire

/// The keyring kept in the data directory (`keyring`, mode 0600), so an agent restarted
/// after a rotation still opens and seals with the mesh's current keys.
///
/// Format: a header line, then one base64 key per line, the primary first. Written to a
/// temporary file, synced, then renamed over the old one, so a crash leaves one or the other.
public struct KeyringStore: Sendable {
    public static let fileName = "keyring"
    static let header = "meshd-keyring-v1"
    public let path: String

    public init(dataDirectory: DataDirectory) { path = "\(dataDirectory.path)/\(Self.fileName)" }

    /// The stored keyring, nil when none was saved yet.
    public func load() throws(SecretFileError) -> Keyring? {
        guard let text = try DataDirectory.readSecret(path) else { return nil }
        let lines = text.split(whereSeparator: \.isNewline).map(String.init)
        guard lines.first == Self.header, lines.count >= 2 else {
            throw .corrupt(path: path, reason: "expected '\(Self.header)' and at least one base64 key")
        }
        var ring: Keyring?
        for line in lines.dropFirst() {
            let key: ClusterKey
            do { key = try ClusterKey(base64: line) } catch { throw .corrupt(path: path, reason: error.description) }
            if ring == nil {
                ring = Keyring(primary: key)
            } else {
                do { try ring!.install(key) } catch { throw .corrupt(path: path, reason: error.description) }
            }
        }
        return ring
    }

    /// Replaces the stored keyring.
    public func save(_ keyring: Keyring) throws(SecretFileError) {
        let text = ([Self.header] + keyring.keys.map(\.base64)).joined(separator: "\n") + "\n"
        let temporary = path + ".tmp"
        unlink(temporary)
        try DataDirectory.writeSecret(temporary, text)
        guard rename(temporary, path) == 0 else {
            throw .io(path: path, reason: "cannot replace: \(String(cString: strerror(errno)))")
        }
    }
}
