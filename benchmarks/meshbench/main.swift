// meshbench: frames sealed+signed and opened+verified per second on one core, against the
// raw libsodium sign and verify rate measured in the same run. Run in release:
//   swift run -c release meshbench [--seconds S]
import CSodium
import Foundation
import MeshCore
import MeshWire

let seconds = CommandLine.arguments.firstIndex(of: "--seconds").flatMap {
    CommandLine.arguments.indices.contains($0 + 1) ? Double(CommandLine.arguments[$0 + 1]) : nil
} ?? 2.0

let rounds = 3

/// Runs `body` for about `seconds` of wall time in each of `rounds` rounds and returns the
/// best rate (operations per second): the best round is the one least disturbed by the
/// rest of the machine.
func rate(_ label: String, _ body: () -> Void) -> Double {
    for _ in 0 ..< 200 { body() }   // warm up
    let clock = ContinuousClock()
    var best = 0.0
    for _ in 0 ..< rounds {
        var n = 0
        let start = clock.now
        let deadline = start + .nanoseconds(Int64(seconds / Double(rounds) * 1e9))
        while clock.now < deadline {
            for _ in 0 ..< 100 { body() }
            n += 100
        }
        best = max(best, Double(n) / (clock.now - start).seconds)
    }
    print(String(format: "%-44@ %10.0f /s", label as NSString, best))
    return best
}

let (identity, _) = SigningKeyPair.generate()
let keyring = Keyring(primary: ClusterKey.generate())
let body = Sodium.randomBytes(256)   // a typical SWIM ping with piggybacked updates

// Raw libsodium on the same bytes the codec handles: one signature over the signed part
// and one AEAD seal of it, without any framing.
let signedPart = Sodium.randomBytes(SignedLayout.headerBytes + body.count)
let key = keyring.primary.bytes
var nonce = Sodium.randomBytes(24)
var sealedOut = [UInt8](repeating: 0, count: signedPart.count + 64 + 16)
var plain = signedPart + identity.sign(signedPart)
let rawSeal = rate("raw libsodium sign + seal") {
    let sig = identity.sign(signedPart)
    plain.replaceSubrange(signedPart.count..., with: sig)
    randombytes_buf(&nonce, 24)
    var clen: UInt64 = 0
    _ = crypto_aead_xchacha20poly1305_ietf_encrypt(&sealedOut, &clen, plain, UInt64(plain.count), nil, 0, nil, nonce, key)
}
var opened = [UInt8](repeating: 0, count: plain.count)
let rawOpen = rate("raw libsodium open + verify") {
    var mlen: UInt64 = 0
    _ = crypto_aead_xchacha20poly1305_ietf_decrypt(&opened, &mlen, nil, sealedOut, UInt64(sealedOut.count), nil, 0, nonce, key)
    _ = SigningKeyPair.verify(signature: Array(opened[signedPart.count...]), message: Array(opened[..<signedPart.count]),
                              publicKey: identity.publicKey)
}

var sealer = FrameSealer(identity: identity, epoch: 1)
let codecSeal = rate("meshd frame seal + sign") {
    _ = try! sealer.seal(kind: .ping, body: body, keyring: keyring)
}
let frame = try! sealer.seal(kind: .ping, body: body, keyring: keyring)
let codecOpen = rate("meshd frame open + verify") {
    _ = try! FrameOpener.openWithoutReplayCheck(frame[...], keyring: keyring, channel: .datagram)
}
var opener = FrameOpener()
var frames: [[UInt8]] = (0 ..< 100_000).map { _ in try! sealer.seal(kind: .ping, body: body, keyring: keyring) }
var next = 0
let codecOpenReplay = rate("meshd frame open + verify + replay filter") {
    _ = try! opener.open(frames[next % frames.count], keyring: keyring)
    next += 1
    if next % frames.count == 0 { opener = FrameOpener() }
}
frames = []

print(String(format: "seal overhead over raw libsodium: %+.1f%%  (ratio %.3f)", (rawSeal / codecSeal - 1) * 100, rawSeal / codecSeal))
print(String(format: "open overhead over raw libsodium: %+.1f%%  (ratio %.3f)", (rawOpen / codecOpen - 1) * 100, rawOpen / codecOpen))
print(String(format: "open+replay overhead over raw:    %+.1f%%  (ratio %.3f)", (rawOpen / codecOpenReplay - 1) * 100, rawOpen / codecOpenReplay))
