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

/// Operations per second of `body` over about `seconds` of wall time.
func measure(_ seconds: Double, _ body: () -> Void) -> Double {
    let clock = ContinuousClock()
    var n = 0
    let start = clock.now
    let deadline = start + .nanoseconds(Int64(seconds * 1e9))
    while clock.now < deadline {
        for _ in 0 ..< 50 { body() }
        n += 50
    }
    return Double(n) / (clock.now - start).seconds
}

/// Compares `codec` with `raw` in alternating short slices, so both see the same machine
/// (a VM's speed drifts by tens of percent over seconds); prints the median rates and the
/// median of the per-slice ratios raw/codec, which is the codec's overhead.
func compare(_ label: String, raw: () -> Void, codec: () -> Void) -> Double {
    for _ in 0 ..< 200 { raw(); codec() }   // warm up
    let slices = max(10, Int(seconds / 0.2))
    var ratios: [Double] = [], raws: [Double] = [], codecs: [Double] = []
    for _ in 0 ..< slices {
        let r = measure(0.1, raw), c = measure(0.1, codec)
        raws.append(r); codecs.append(c); ratios.append(r / c)
    }
    func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }
    print(String(format: "%-34@ raw %9.0f /s   codec %9.0f /s   overhead %+5.1f%%  (ratio %.3f, median of %d slices)",
                 label as NSString, median(raws), median(codecs), (median(ratios) - 1) * 100, median(ratios), slices))
    return median(ratios)
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
var sealer = FrameSealer(identity: identity, epoch: 1)
let frame = try! sealer.seal(kind: .ping, body: body, keyring: keyring)
var opened = [UInt8](repeating: 0, count: plain.count)
@MainActor func rawSeal() {
    let sig = identity.sign(signedPart)
    plain.replaceSubrange(signedPart.count..., with: sig)
    randombytes_buf(&nonce, 24)
    var clen: UInt64 = 0
    _ = crypto_aead_xchacha20poly1305_ietf_encrypt(&sealedOut, &clen, plain, UInt64(plain.count), nil, 0, nil, nonce, key)
}
rawSeal()
@MainActor func rawOpen() {
    var mlen: UInt64 = 0
    _ = crypto_aead_xchacha20poly1305_ietf_decrypt(&opened, &mlen, nil, sealedOut, UInt64(sealedOut.count), nil, 0, nonce, key)
    _ = SigningKeyPair.verify(signature: Array(opened[signedPart.count...]), message: Array(opened[..<signedPart.count]),
                              publicKey: identity.publicKey)
}
// A few thousand frames, replayed to a fresh filter each cycle: enough for the filter's
// work to count, few enough to stay in cache like the raw side's single buffer.
let frames: [[UInt8]] = (0 ..< 2048).map { _ in try! sealer.seal(kind: .ping, body: body, keyring: keyring) }
var opener = FrameOpener()
var next = 0

_ = compare("seal + sign") { rawSeal() } codec: { _ = try! sealer.seal(kind: .ping, body: body, keyring: keyring) }
_ = compare("open + verify") { rawOpen() } codec: {
    _ = try! FrameOpener.openWithoutReplayCheck(frame[...], keyring: keyring, channel: .datagram)
}
_ = compare("open + verify + replay filter") { rawOpen() } codec: {
    _ = try! opener.open(frames[next], keyring: keyring)
    next += 1
    if next == frames.count { next = 0; opener = FrameOpener() }
}
