import MeshCore
@testable import MeshWire
import Testing

struct FrameTests {
    let alice = SigningKeyPair.generate().keyPair
    let keyring = Keyring(primary: ClusterKey.generate())

    @Test func everyKindRoundTrips() throws {
        var sealer = FrameSealer(identity: alice, epoch: 7)
        var opener = FrameOpener()
        for kind in MessageKind.allCases {
            let body = Sodium.randomBytes(min(Int(kind.rawValue) * 13, WireLimits.maxDatagramBodyBytes))
            let bytes = try sealer.seal(kind: kind, body: body, keyring: keyring)
            #expect(bytes.count == body.count + WireLimits.frameOverheadBytes)
            let frame = try opener.open(bytes, keyring: keyring)
            #expect(frame.sender == alice.nodeID)
            #expect(frame.kind == kind)
            #expect(frame.body == body)
            #expect(frame.epoch == 7)
        }
        #expect(opener.rejected.total == 0)
    }

    @Test func changingAnyByteIsDetected() throws {
        var sealer = FrameSealer(identity: alice, epoch: 1)
        let bytes = try sealer.seal(kind: .ping, body: Array("hello mesh".utf8), keyring: keyring)
        var opener = FrameOpener()
        for i in bytes.indices {
            var tampered = bytes
            tampered[i] ^= 0x01
            #expect(throws: WireError.self) { try opener.open(tampered, keyring: keyring) }
        }
        // The version byte is checked first; every other byte breaks the seal.
        #expect(opener.rejected[.unknownVersion] == 1)
        #expect(opener.rejected[.undecryptable] == UInt64(bytes.count - 1))
        // The untouched frame still opens: refusals left no state behind.
        #expect(try opener.open(bytes, keyring: keyring).body == Array("hello mesh".utf8))
    }

    @Test func frameFromAnotherClusterKeyIsRefused() throws {
        var sealer = FrameSealer(identity: alice, epoch: 1)
        let other = Keyring(primary: ClusterKey.generate())
        let bytes = try sealer.seal(kind: .ack, body: [1, 2, 3], keyring: other)
        var opener = FrameOpener()
        #expect(throws: WireError.undecryptable) { try opener.open(bytes, keyring: keyring) }
        #expect(opener.rejected[.undecryptable] == 1)
    }

    @Test func anyKeyOfTheRingOpensButOnlyThePrimarySeals() throws {
        let old = ClusterKey.generate(), new = ClusterKey.generate()
        var ring = Keyring(primary: old)
        try ring.install(new)
        var sealer = FrameSealer(identity: alice, epoch: 1)
        let sealedWithOld = try sealer.seal(kind: .ping, body: [9], keyring: ring)
        var opener = FrameOpener()
        _ = try opener.open(sealedWithOld, keyring: Keyring(primary: old))
        #expect(throws: WireError.undecryptable) { try opener.open(sealedWithOld, keyring: Keyring(primary: new)) }
        try ring.use(new)
        let sealedWithNew = try sealer.seal(kind: .ping, body: [9], keyring: ring)
        _ = try opener.open(sealedWithNew, keyring: ring)
        #expect(throws: KeyringError.removingPrimary(new.fingerprint)) { try ring.remove(new) }
        try ring.remove(old)
        #expect(ring.keys == [new])
    }

    @Test func forgedSignatureIsRefused() throws {
        // A member holding the cluster key cannot speak for another: re-sign alice's frame
        // with mallory's key but keep alice's id in the header.
        let mallory = SigningKeyPair.generate().keyPair
        var w = ByteWriter()
        w.write(alice.nodeID); w.write(UInt64(1)); w.write(UInt64(1)); w.write(MessageKind.ping.rawValue); w.write(UInt32(3))
        var signed = w.bytes + [1, 2, 3]
        signed += mallory.sign(signed)
        var datagram: [UInt8] = [SealedLayout.currentVersion]
        keyring.primary.seal(signed, additionalData: [SealedLayout.currentVersion], into: &datagram)
        var opener = FrameOpener()
        #expect(throws: WireError.badSignature) { try opener.open(datagram, keyring: keyring) }
        #expect(opener.rejected[.badSignature] == 1)
    }

    @Test func replaysAreRefusedReorderingInsideTheWindowIsNot() throws {
        var sealer = FrameSealer(identity: alice, epoch: 1)
        let frames = try (0 ..< 100).map { _ in try sealer.seal(kind: .ping, body: [], keyring: keyring) }
        var opener = FrameOpener()
        _ = try opener.open(frames[99], keyring: keyring)
        _ = try opener.open(frames[50], keyring: keyring)     // 49 behind: inside the window
        #expect(throws: WireError.self) { try opener.open(frames[50], keyring: keyring) }
        #expect(throws: WireError.self) { try opener.open(frames[99], keyring: keyring) }
        #expect(throws: WireError.self) { try opener.open(frames[10], keyring: keyring) }  // older than the window
        #expect(opener.rejected[.replayed] == 3)

        // A restart (new epoch) is accepted from seq 1; the old epoch is then refused.
        var restarted = FrameSealer(identity: alice, epoch: 2)
        _ = try opener.open(try restarted.seal(kind: .ping, body: [], keyring: keyring), keyring: keyring)
        #expect(throws: WireError.self) { try opener.open(frames[98], keyring: keyring) }
    }

    @Test func replayWindowIsAskedBeforeTheSignatureAndRecordsOnlyVerifiedFrames() throws {
        var filter = ReplayFilter()
        #expect(filter.wouldAccept(sender: alice.nodeID, epoch: 1, seq: 5))
        #expect(filter.wouldAccept(sender: alice.nodeID, epoch: 1, seq: 5))   // asking records nothing
        let accepted = filter.accept(sender: alice.nodeID, epoch: 1, seq: 5)
        #expect(accepted)
        #expect(!filter.wouldAccept(sender: alice.nodeID, epoch: 1, seq: 5))
        #expect(filter.wouldAccept(sender: alice.nodeID, epoch: 1, seq: 4))
        #expect(!filter.wouldAccept(sender: alice.nodeID, epoch: 0, seq: 9))
        #expect(filter.wouldAccept(sender: alice.nodeID, epoch: 2, seq: 1))

        // A replayed frame whose signature was tampered with is refused as a replay, before
        // any signature work; a fresh frame with a bad signature still fails as badSignature.
        var sealer = FrameSealer(identity: alice, epoch: 1)
        let frame = try sealer.seal(kind: .ping, body: [1, 2, 3], keyring: keyring)
        var opener = FrameOpener()
        _ = try opener.open(frame, keyring: keyring)
        #expect(throws: WireError.self) { try opener.open(frame, keyring: keyring) }
        #expect(opener.rejected[.replayed] == 1 && opener.rejected[.badSignature] == 0)
    }

    @Test func sizeLimitsAreEnforcedOnBothSides() throws {
        var sealer = FrameSealer(identity: alice, epoch: 1)
        let fits = [UInt8](repeating: 7, count: WireLimits.maxDatagramBodyBytes)
        let bytes = try sealer.seal(kind: .ping, body: fits, keyring: keyring)
        #expect(bytes.count == WireLimits.maxDatagramBytes)
        #expect(throws: WireError.oversized(size: WireLimits.maxDatagramBytes + 1, limit: WireLimits.maxDatagramBytes)) {
            try sealer.seal(kind: .ping, body: fits + [0], keyring: keyring)
        }
        _ = try sealer.seal(kind: .pushPull, body: fits + [0], keyring: keyring, channel: .stream)
        var opener = FrameOpener()
        #expect(throws: WireError.oversized(size: WireLimits.maxDatagramBytes + 1, limit: WireLimits.maxDatagramBytes)) {
            try opener.open(bytes + [0], keyring: keyring)
        }
        #expect(throws: WireError.truncated(needed: WireLimits.frameOverheadBytes, available: 10)) {
            try opener.open(Array(bytes.prefix(10)), keyring: keyring)
        }
    }

    @Test func unknownKindInsideAValidSignatureIsRefused() throws {
        var w = ByteWriter()
        w.write(alice.nodeID); w.write(UInt64(1)); w.write(UInt64(1)); w.write(UInt8(200)); w.write(UInt32(0))
        var signed = w.bytes
        signed += alice.sign(signed)
        var datagram: [UInt8] = [SealedLayout.currentVersion]
        keyring.primary.seal(signed, additionalData: [SealedLayout.currentVersion], into: &datagram)
        var opener = FrameOpener()
        #expect(throws: WireError.unknownKind(200)) { try opener.open(datagram, keyring: keyring) }
    }
}
