import CSodium
import MeshCore

/// libsodium, initialised once per process before any other call.
public enum Sodium {
    private static let initialized: Bool = sodium_init() >= 0

    /// Makes sure libsodium is initialised; every wrapper calls this.
    @inline(__always) public static func ensureInitialized() {
        precondition(initialized, "libsodium failed to initialise")
    }

    /// `n` bytes from the operating system's CSPRNG.
    public static func randomBytes(_ n: Int) -> [UInt8] {
        ensureInitialized()
        var out = [UInt8](repeating: 0, count: n)
        if n > 0 { out.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, n) } }
        return out
    }
}

extension SeededRandom {
    /// A generator seeded from the operating system's CSPRNG: how every agent core gets its
    /// randomness (the simulator seeds from its run's seed instead, so runs replay).
    public static func fromSystemEntropy() -> SeededRandom {
        SeededRandom(seed: Sodium.randomBytes(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    }
}

/// An Ed25519 key pair: a node's identity.
public struct SigningKeyPair: Sendable {
    public static let seedBytes = 32
    public let publicKey: [UInt8]
    private let secretKey: [UInt8]

    /// The node id this key pair stands for.
    public var nodeID: NodeID { NodeID(publicKey: publicKey)! }

    /// Derives the key pair from a 32-byte seed (what the identity file stores).
    public init?(seed: [UInt8]) {
        guard seed.count == Self.seedBytes else { return nil }
        Sodium.ensureInitialized()
        var pk = [UInt8](repeating: 0, count: Int(crypto_sign_PUBLICKEYBYTES))
        var sk = [UInt8](repeating: 0, count: Int(crypto_sign_SECRETKEYBYTES))
        guard crypto_sign_seed_keypair(&pk, &sk, seed) == 0 else { return nil }
        publicKey = pk; secretKey = sk
    }

    /// A new random key pair and the seed it was derived from.
    public static func generate() -> (keyPair: SigningKeyPair, seed: [UInt8]) {
        let seed = Sodium.randomBytes(seedBytes)
        return (SigningKeyPair(seed: seed)!, seed)
    }

    /// A detached 64-byte signature of `message`.
    public func sign(_ message: UnsafeRawBufferPointer) -> [UInt8] {
        var sig = [UInt8](repeating: 0, count: SignedLayout.signatureBytes)
        _ = crypto_sign_detached(&sig, nil, message.baseAddress?.assumingMemoryBound(to: UInt8.self),
                                 UInt64(message.count), secretKey)
        return sig
    }

    public func sign(_ message: [UInt8]) -> [UInt8] { message.withUnsafeBytes { sign($0) } }

    /// Whether `signature` is `publicKey`'s signature of `message`.
    public static func verify(signature: UnsafeRawBufferPointer, message: UnsafeRawBufferPointer,
                              publicKey: UnsafeRawBufferPointer) -> Bool {
        Sodium.ensureInitialized()
        guard signature.count == SignedLayout.signatureBytes, publicKey.count == NodeID.byteCount else { return false }
        return crypto_sign_verify_detached(signature.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                           message.baseAddress?.assumingMemoryBound(to: UInt8.self),
                                           UInt64(message.count),
                                           publicKey.baseAddress!.assumingMemoryBound(to: UInt8.self)) == 0
    }

    public static func verify(signature: [UInt8], message: [UInt8], publicKey: [UInt8]) -> Bool {
        signature.withUnsafeBytes { s in message.withUnsafeBytes { m in publicKey.withUnsafeBytes { p in
            verify(signature: s, message: m, publicKey: p)
        } } }
    }
}

/// A 32-byte cluster key for XChaCha20-Poly1305; shown to people as base64.
public struct ClusterKey: Hashable, Sendable {
    public static let byteCount = Int(crypto_aead_xchacha20poly1305_ietf_KEYBYTES)
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == Self.byteCount else { return nil }
        self.bytes = bytes
    }

    /// A new random key.
    public static func generate() -> ClusterKey { ClusterKey(bytes: Sodium.randomBytes(byteCount))! }

    /// Parses the base64 form `meshctl keygen` prints.
    public init(base64 text: String) throws(KeyFormatError) {
        guard let raw = Base64.decode(text.trimmingWhitespace()) else { throw .notBase64 }
        guard raw.count == Self.byteCount else { throw .wrongLength(raw.count, expected: Self.byteCount) }
        bytes = raw
    }

    public var base64: String { Base64.encode(bytes) }

    /// A short fingerprint that names the key without revealing it (first 8 hex digits of
    /// its BLAKE2b hash), for `meshctl keys list`.
    public var fingerprint: String {
        var out = [UInt8](repeating: 0, count: 16)
        _ = crypto_generichash(&out, 16, bytes, UInt64(bytes.count), nil, 0)
        return String(Hex.encode(out).prefix(8))
    }

    /// Encrypts `plaintext` with a fresh random nonce; returns nonce ‖ ciphertext ‖ tag
    /// appended to `out`.
    func seal(_ plaintext: [UInt8], additionalData: [UInt8], into out: inout [UInt8]) {
        let nonce = Sodium.randomBytes(SealedLayout.nonceBytes)
        out.append(contentsOf: nonce)
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: plaintext.count + SealedLayout.tagBytes))
        var written: UInt64 = 0
        out.withUnsafeMutableBufferPointer { buf in
            _ = crypto_aead_xchacha20poly1305_ietf_encrypt(buf.baseAddress! + start, &written,
                                                           plaintext, UInt64(plaintext.count),
                                                           additionalData, UInt64(additionalData.count),
                                                           nil, nonce, bytes)
        }
    }

    /// Decrypts nonce ‖ ciphertext ‖ tag; nil if this key did not seal it or a byte changed.
    func open(_ sealed: ArraySlice<UInt8>, additionalData: [UInt8]) -> [UInt8]? {
        guard sealed.count >= SealedLayout.nonceBytes + SealedLayout.tagBytes else { return nil }
        var plain = [UInt8](repeating: 0, count: sealed.count - SealedLayout.nonceBytes - SealedLayout.tagBytes)
        var plainCount: UInt64 = 0
        let ok = sealed.withUnsafeBufferPointer { s -> Bool in
            let nonce = s.baseAddress!
            let cipher = nonce + SealedLayout.nonceBytes
            return crypto_aead_xchacha20poly1305_ietf_decrypt(&plain, &plainCount, nil, cipher,
                                                              UInt64(s.count - SealedLayout.nonceBytes),
                                                              additionalData, UInt64(additionalData.count),
                                                              nonce, bytes) == 0
        }
        return ok ? plain : nil
    }
}

/// Why a key given as text was refused.
public enum KeyFormatError: Error, Equatable, Sendable, CustomStringConvertible {
    case notBase64
    case wrongLength(Int, expected: Int)

    public var description: String {
        switch self {
        case .notBase64: "the key is not valid base64 (make one with `meshctl keygen`)"
        case let .wrongLength(n, expected): "the key decodes to \(n) bytes; a cluster key has \(expected) (make one with `meshctl keygen`)"
        }
    }
}

/// Standard base64 with padding, through libsodium.
public enum Base64 {
    public static func encode(_ bytes: [UInt8]) -> String {
        Sodium.ensureInitialized()
        let variant = Int32(sodium_base64_VARIANT_ORIGINAL)
        let len = sodium_base64_encoded_len(bytes.count, variant)
        var out = [CChar](repeating: 0, count: len)
        _ = sodium_bin2base64(&out, len, bytes, bytes.count, variant)
        return String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public static func decode(_ text: String) -> [UInt8]? {
        Sodium.ensureInitialized()
        let chars = Array(text.utf8CString.dropLast())
        var out = [UInt8](repeating: 0, count: chars.count * 3 / 4 + 3)
        var outLen = 0
        let rc = sodium_base642bin(&out, out.count, chars, chars.count, nil, &outLen, nil,
                                   Int32(sodium_base64_VARIANT_ORIGINAL))
        guard rc == 0 else { return nil }
        return Array(out.prefix(outLen))
    }
}

extension String {
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })!
        return String(scalars[first ... last])
    }
}

/// Keyed-or-not BLAKE2b digests, for checksums of persisted records.
public enum Checksum {
    /// A 16-byte BLAKE2b digest of `bytes`.
    public static func blake2b(_ bytes: [UInt8]) -> [UInt8] {
        Sodium.ensureInitialized()
        var out = [UInt8](repeating: 0, count: 16)
        _ = crypto_generichash(&out, 16, bytes, UInt64(bytes.count), nil, 0)
        return out
    }
}

/// API token secrets: made here, shown to their owner once, and kept by the mesh only as
/// a hash (BLAKE2b-256): whoever reads the control state or the event log learns nothing
/// that opens a door.
public enum TokenSecret {
    /// The prefix that tells a meshd token from other secrets in a script or a log.
    public static let prefix = "mtk_"

    /// A new secret: the prefix and 32 random bytes in hex.
    public static func generate() -> String { prefix + Hex.encode(Sodium.randomBytes(32)) }

    /// The hash the control state keeps, 64 lowercase hex digits.
    public static func hash(_ secret: String) -> String {
        Sodium.ensureInitialized()
        let bytes = Array(secret.utf8)
        var out = [UInt8](repeating: 0, count: 32)
        _ = crypto_generichash(&out, 32, bytes, UInt64(bytes.count), nil, 0)
        return Hex.encode(out)
    }
}
