import MeshCore
@testable import MeshWire
import Testing

/// Seeded fuzzing of the decoder: random datagrams, mutations of valid ones, and random
/// plaintexts sealed with the right key (so the inner parser, not only the AEAD, is fed).
/// A failure prints its seed and iteration; rerun with the same seed to reproduce.
struct FuzzTests {
    static let seed: UInt64 = 0x6D65_7368_6421
    static let iterations = 100_000

    @Test func decoderOnlyEverReturnsTypedErrorsOrValidFrames() throws {
        var rng = SeededRandom(seed: Self.seed)
        let identity = SigningKeyPair(seed: (0 ..< 32).map { UInt8($0) })!
        let keyring = Keyring(primary: ClusterKey(bytes: (0 ..< 32).map { UInt8(255 - $0) })!)
        var sealer = FrameSealer(identity: identity, epoch: 1)
        let valid = try (0 ..< 64).map { i in
            try sealer.seal(kind: MessageKind.allCases[i % MessageKind.allCases.count],
                            body: (0 ..< (i * 7)).map { _ in UInt8.random(in: 0 ... 255, using: &rng) }, keyring: keyring)
        }
        var opener = FrameOpener()
        var accepted = 0
        for i in 0 ..< Self.iterations {
            let input: [UInt8]
            switch i % 4 {
            case 0: // random bytes of random length, sometimes over the limit
                input = (0 ..< Int.random(in: 0 ... 1600, using: &rng)).map { _ in UInt8.random(in: 0 ... 255, using: &rng) }
            case 1: // a valid frame with bytes flipped
                var v = valid.randomElement(using: &rng)!
                for _ in 0 ..< Int.random(in: 1 ... 8, using: &rng) {
                    v[Int.random(in: 0 ..< v.count, using: &rng)] ^= UInt8.random(in: 1 ... 255, using: &rng)
                }
                input = v
            case 2: // a valid frame cut short or extended
                let v = valid.randomElement(using: &rng)!
                let n = Int.random(in: 0 ... v.count + 40, using: &rng)
                input = n <= v.count ? Array(v.prefix(n)) : v + (0 ..< n - v.count).map { _ in UInt8.random(in: 0 ... 255, using: &rng) }
            default: // random plaintext sealed with the right key: exercises the inner parser
                var plain = (0 ..< Int.random(in: 0 ... 300, using: &rng)).map { _ in UInt8.random(in: 0 ... 255, using: &rng) }
                if plain.count > SignedLayout.headerBytes, Bool.random(using: &rng) {
                    // make the length field consistent so parsing reaches the signature check
                    let bodyCount = max(0, plain.count - SignedLayout.headerBytes - SignedLayout.signatureBytes)
                    let lenAt = SignedLayout.headerBytes - 4
                    for b in 0 ..< 4 { plain[lenAt + b] = UInt8(truncatingIfNeeded: bodyCount >> ((3 - b) * 8)) }
                }
                var d: [UInt8] = [SealedLayout.currentVersion]
                keyring.primary.seal(plain, additionalData: [SealedLayout.currentVersion], into: &d)
                input = d
            }
            do {
                _ = try opener.open(input, keyring: keyring)
                accepted += 1
            } catch {
                // typed: `error` is a WireError by the signature; nothing else can escape
                _ = error.reason
            }
        }
        // Only untouched valid frames can pass (a truncation to full length, or an extension
        // that was refused as oversized/undecryptable); no forged or mutated one does.
        #expect(accepted <= valid.count, "seed \(Self.seed): a mutated or random frame was accepted")
        #expect(opener.rejected.total == UInt64(Self.iterations - accepted))
        #expect(opener.rejected[.undecryptable] > 0 && opener.rejected[.truncated] > 0 && opener.rejected[.oversized] > 0)
        #expect(opener.rejected[.badSignature] > 0 || opener.rejected[.malformed] > 0)
    }

    @Test func byteReaderNeverReservesMoreThanTheInputHolds() {
        // A forged list count of 4 billion must fail fast, not allocate.
        var w = ByteWriter(); w.write(UInt32.max)
        var r = ByteReader(w.bytes)
        #expect(throws: WireError.self) { try r.readList(limit: Int(UInt32.max)) { (r: inout ByteReader) throws(WireError) in try r.readUInt8() } }
        var r2 = ByteReader(w.bytes)
        #expect(throws: WireError.oversized(size: Int(UInt32.max), limit: WireLimits.maxFieldBytes)) { try r2.readBlob() }
    }
}
