/// The cluster keys an agent holds: one primary key that seals, and others that still
/// open (the rotation protocol of Serf: install everywhere, use everywhere, remove).
public struct Keyring: Sendable, Equatable {
    /// All keys, the primary first.
    public private(set) var keys: [ClusterKey]

    public init(primary: ClusterKey) { keys = [primary] }

    /// The key that seals outgoing frames.
    public var primary: ClusterKey { keys[0] }

    /// Adds a key that opens frames; sealing stays with the primary. Installing a key that
    /// is already held is a no-op.
    public mutating func install(_ key: ClusterKey) throws(KeyringError) {
        guard !keys.contains(key) else { return }
        guard keys.count < WireLimits.maxKeyringKeys else { throw .full(limit: WireLimits.maxKeyringKeys) }
        keys.append(key)
    }

    /// Makes an installed key the primary.
    public mutating func use(_ key: ClusterKey) throws(KeyringError) {
        guard let i = keys.firstIndex(of: key) else { throw .notInstalled(key.fingerprint) }
        keys.swapAt(0, i)
    }

    /// Removes a key that is not the primary.
    public mutating func remove(_ key: ClusterKey) throws(KeyringError) {
        guard let i = keys.firstIndex(of: key) else { throw .notInstalled(key.fingerprint) }
        guard i != 0 else { throw .removingPrimary(key.fingerprint) }
        keys.remove(at: i)
    }
}

/// Why a keyring change was refused.
public enum KeyringError: Error, Equatable, Sendable, CustomStringConvertible {
    case full(limit: Int)
    case notInstalled(String)
    case removingPrimary(String)

    public var description: String {
        switch self {
        case let .full(limit): "the keyring already holds \(limit) keys; remove one first"
        case let .notInstalled(fp): "key \(fp) is not installed; install it first"
        case let .removingPrimary(fp): "key \(fp) is the primary key; `use` another key before removing it"
        }
    }
}
