/// A node's identity: its Ed25519 public key (32 bytes).
///
/// A name is a label; this is the identity. Stored as four words so that hashing and
/// comparing (hot in the member table and the simulator) touch no heap memory.
public struct NodeID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public static let byteCount = 32
    public let w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64

    public init(w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64) {
        self.w0 = w0; self.w1 = w1; self.w2 = w2; self.w3 = w3
    }

    /// Builds an id from a 32-byte public key; nil when the length is wrong. Inlinable so
    /// callers in other modules get it specialized (it runs for every frame opened).
    @inlinable
    public init?<C: Collection>(publicKey: C) where C.Element == UInt8 {
        guard publicKey.count == NodeID.byteCount else { return nil }
        var w0: UInt64 = 0, w1: UInt64 = 0, w2: UInt64 = 0, w3: UInt64 = 0
        for (i, byte) in publicKey.enumerated() {
            switch i / 8 {
            case 0: w0 = w0 << 8 | UInt64(byte)
            case 1: w1 = w1 << 8 | UInt64(byte)
            case 2: w2 = w2 << 8 | UInt64(byte)
            default: w3 = w3 << 8 | UInt64(byte)
            }
        }
        self.init(w0: w0, w1: w1, w2: w2, w3: w3)
    }

    /// The 32 public-key bytes, big-endian word order.
    public var bytes: [UInt8] {
        var out = [UInt8](); out.reserveCapacity(32)
        for w in [w0, w1, w2, w3] {
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: w >> UInt64(shift))) }
        }
        return out
    }

    /// The full key as 64 lowercase hex digits.
    public var hex: String { Hex.encode(bytes) }

    /// The short form shown to people: the first 16 hex digits (64 bits), as git shows commits.
    public var description: String { String(hex.prefix(16)) }

    /// One word into the hasher instead of four: a key's words are uniformly random (an
    /// Ed25519 public key), so folding them loses nothing, and the member table's lookups
    /// (the hottest operation of a large mesh) hash a quarter as much.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(w0 ^ w1 ^ w2 ^ w3)
    }

    public static func < (a: NodeID, b: NodeID) -> Bool {
        (a.w0, a.w1, a.w2, a.w3) < (b.w0, b.w1, b.w2, b.w3)
    }
}

/// Lowercase hexadecimal encoding.
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    public static func encode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var out = [UInt8](); out.reserveCapacity(bytes.count * 2)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 0xf)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes hex digits (either case); nil on an odd length or a non-hex character.
    public static func decode(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var out = [UInt8](); out.reserveCapacity(chars.count / 2)
        var i = 0
        while i < chars.count {
            guard let hi = value(chars[i]), let lo = value(chars[i + 1]) else { return nil }
            out.append(hi << 4 | lo); i += 2
        }
        return out
    }

    private static func value(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
