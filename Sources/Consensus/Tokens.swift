import MeshCore

/// What an API token may do. Each role includes the ones below it.
public enum TokenRole: String, Sendable, Equatable, Comparable, CaseIterable {
    /// Members, status, ps, logs, stats, events, variables, metrics.
    case read
    /// Adds what changes workloads and data: run, stop, scale, var set/rm, event send.
    case operate
    /// Adds tokens, keys, join, leave and raft recover.
    case admin

    var level: Int { switch self { case .read: 0; case .operate: 1; case .admin: 2 } }
    public static func < (a: TokenRole, b: TokenRole) -> Bool { a.level < b.level }
}

/// A token as the control state holds it: never the secret, only its hash.
public struct TokenEntry: Sendable, Equatable {
    public var name: String
    public var role: TokenRole
    /// The BLAKE2b-256 hash of the secret, 64 lowercase hex digits (`TokenSecret.hash`).
    public var hash: String
    /// The log index that created it.
    public var index: LogIndex
}

/// Limits of the tokens the control state holds.
public enum TokenLimits {
    public static let maxTokens = 1_000
    public static let maxNameBytes = 64
    public static let hashHexDigits = 64
}

extension ControlState {
    /// Why a token name or hash cannot be used; nil when it can.
    static func validateToken(name: String, hash: String?) -> String? {
        guard !name.isEmpty, name.utf8.count <= TokenLimits.maxNameBytes,
              name.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "._-".unicodeScalars.contains($0) }) else {
            return "token name \"\(name)\": 1-\(TokenLimits.maxNameBytes) letters, digits, '.', '_' or '-'"
        }
        if let hash, hash.utf8.count != TokenLimits.hashHexDigits || !hash.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) {
            return "token hash: \(TokenLimits.hashHexDigits) lowercase hex digits"
        }
        return nil
    }

    /// The token whose secret hashes to `hash`, if any.
    public func token(hash: String) -> TokenEntry? { tokens.values.first { $0.hash == hash } }
}
