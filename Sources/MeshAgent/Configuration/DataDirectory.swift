import Foundation
import MeshWire

/// The agent's data directory and the secrets it keeps there: the node's Ed25519 identity
/// (`node.key`) and, when no `--cluster-key-file` is given, the cluster key (`cluster.key`).
/// Both are written with mode 0600 and refused if anyone but the owner can read them.
public struct DataDirectory: Sendable {
    public let path: String
    public static let identityFile = "node.key"
    public static let clusterKeyFile = "cluster.key"
    static let identityHeader = "meshd-ed25519-seed-v1"
    static let maxSecretFileBytes = 4096

    public init(path: String) { self.path = path }

    /// Creates the directory (mode 0700) if it does not exist.
    public func prepare() throws(SecretFileError) {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
            guard isDir.boolValue else { throw .io(path: path, reason: "exists and is not a directory") }
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw .io(path: path, reason: "cannot create the data directory: \(error.localizedDescription)")
        }
    }

    /// Loads the node identity, making one on first start. `created` tells which happened.
    public func loadOrCreateIdentity() throws(SecretFileError) -> (keyPair: SigningKeyPair, created: Bool) {
        let file = "\(path)/\(Self.identityFile)"
        if let text = try Self.readSecret(file) {
            let lines = text.split(whereSeparator: \.isNewline)
            guard lines.count == 2, lines[0] == Self.identityHeader,
                  let seed = Base64.decode(String(lines[1])), let kp = SigningKeyPair(seed: seed) else {
                throw .corrupt(path: file, reason: "expected '\(Self.identityHeader)' and a base64 32-byte seed; move the file away to make a new identity")
            }
            return (kp, false)
        }
        let (kp, seed) = SigningKeyPair.generate()
        try Self.writeSecret(file, "\(Self.identityHeader)\n\(Base64.encode(seed))\n")
        return (kp, true)
    }

    /// Loads the cluster key from `explicitFile`, or from the data directory (making one
    /// there on first start when no file was named).
    public func loadOrCreateClusterKey(explicitFile: String?) throws(SecretFileError) -> (key: ClusterKey, created: Bool) {
        let file = explicitFile ?? "\(path)/\(Self.clusterKeyFile)"
        if let text = try Self.readSecret(file) {
            do { return (try ClusterKey(base64: text), false) } catch {
                throw .corrupt(path: file, reason: error.description)
            }
        }
        guard explicitFile == nil else { throw .io(path: file, reason: "no such file (make one with `meshctl keygen`)") }
        let key = ClusterKey.generate()
        try Self.writeSecret(file, key.base64 + "\n")
        return (key, true)
    }

    /// The text of a secret file, nil if it does not exist; refuses files readable or
    /// writable by group or others.
    static func readSecret(_ file: String) throws(SecretFileError) -> String? {
        var st = stat()
        guard stat(file, &st) == 0 else {
            if errno == ENOENT { return nil }
            throw .io(path: file, reason: String(cString: strerror(errno)))
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw .corrupt(path: file, reason: "not a regular file") }
        let mode = Int(st.st_mode & 0o777)
        guard mode & 0o077 == 0 else { throw .tooOpen(path: file, mode: mode) }
        guard Int(st.st_size) <= maxSecretFileBytes else {
            throw .corrupt(path: file, reason: "\(st.st_size) bytes; a key file is under \(maxSecretFileBytes)")
        }
        guard let data = FileManager.default.contents(atPath: file) else {
            throw .io(path: file, reason: "cannot read")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw .corrupt(path: file, reason: "not UTF-8 text") }
        return text
    }

    /// Writes a new secret file with mode 0600 (never replacing one), and syncs it.
    static func writeSecret(_ file: String, _ text: String) throws(SecretFileError) {
        let fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .io(path: file, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard write(fd, bytes, bytes.count) == bytes.count, fsync(fd) == 0 else {
            throw .io(path: file, reason: String(cString: strerror(errno)))
        }
    }
}

/// Why a key file could not be used.
public enum SecretFileError: Error, Equatable, Sendable, CustomStringConvertible {
    case tooOpen(path: String, mode: Int)
    case corrupt(path: String, reason: String)
    case io(path: String, reason: String)

    public var description: String {
        switch self {
        case let .tooOpen(path, mode):
            "\(path) has mode \(String(mode, radix: 8)) and is readable or writable by others; run `chmod 600 \(path)`"
        case let .corrupt(path, reason): "\(path) is not a valid key file: \(reason)"
        case let .io(path, reason): "\(path): \(reason)"
        }
    }
}
