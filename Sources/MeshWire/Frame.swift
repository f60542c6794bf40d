import MeshCore

/// One protocol message as it travels: who sent it, its place in the sender's sequence,
/// its kind, and the encoded body.
///
/// On the wire a frame is signed by its sender and the signed bytes sealed with the
/// cluster key:
///
/// ```
/// sealed:  version(1) ‖ nonce(24) ‖ XChaCha20-Poly1305(cluster key, ad: version)[signed]
/// signed:  sender key(32) ‖ epoch(8) ‖ seq(8) ‖ kind(1) ‖ body length(4) ‖ body ‖ Ed25519 sig(64)
/// ```
public struct Frame: Sendable, Equatable {
    public var sender: NodeID
    public var epoch: UInt64
    public var seq: UInt64
    public var kind: MessageKind
    public var body: [UInt8]

    public init(sender: NodeID, epoch: UInt64, seq: UInt64, kind: MessageKind, body: [UInt8]) {
        self.sender = sender; self.epoch = epoch; self.seq = seq; self.kind = kind; self.body = body
    }
}

/// Where a frame travels, which decides its size limit.
public enum FrameChannel: Sendable {
    case datagram, stream

    public var maxBytes: Int {
        switch self {
        case .datagram: WireLimits.maxDatagramBytes
        case .stream: WireLimits.maxStreamFrameBytes
        }
    }
}

/// Signs and seals this node's outgoing frames, numbering them (epoch, seq).
public struct FrameSealer: Sendable {
    public let identity: SigningKeyPair
    public let epoch: UInt64
    public private(set) var nextSeq: UInt64 = 1

    /// `epoch` must grow from one start of the node to the next (the agent passes the wall
    /// clock in microseconds), so peers' replay filters accept the restarted node.
    public init(identity: SigningKeyPair, epoch: UInt64) {
        self.identity = identity; self.epoch = epoch
    }

    /// The sealed bytes of one frame, ready to send.
    public mutating func seal(kind: MessageKind, body: [UInt8], keyring: Keyring,
                              channel: FrameChannel = .datagram) throws(WireError) -> [UInt8] {
        let total = WireLimits.frameOverheadBytes + body.count
        guard total <= channel.maxBytes else { throw .oversized(size: total, limit: channel.maxBytes) }
        var signed = [UInt8](); signed.reserveCapacity(SignedLayout.headerBytes + body.count + SignedLayout.signatureBytes)
        var w = ByteWriter(capacity: SignedLayout.headerBytes)
        w.write(identity.nodeID); w.write(epoch); w.write(nextSeq); w.write(kind.rawValue); w.write(UInt32(body.count))
        signed.append(contentsOf: w.bytes)
        signed.append(contentsOf: body)
        signed.append(contentsOf: identity.sign(signed))
        nextSeq += 1
        var out = [UInt8](); out.reserveCapacity(total)
        out.append(SealedLayout.currentVersion)
        keyring.primary.seal(signed, additionalData: [SealedLayout.currentVersion], into: &out)
        return out
    }
}

/// Opens incoming frames: checks size, version, seal, signature and replay, in that
/// order, and counts every refusal by reason.
public struct FrameOpener: Sendable {
    public private(set) var rejected = RejectCounters()
    private var replay: ReplayFilter

    public init(replayCapacity: Int = WireLimits.maxReplayTrackedSenders) {
        replay = ReplayFilter(capacity: replayCapacity)
    }

    /// The frame inside `bytes`, or a typed error (also counted in `rejected`).
    public mutating func open(_ bytes: ArraySlice<UInt8>, keyring: Keyring,
                              channel: FrameChannel = .datagram) throws(WireError) -> Frame {
        do throws(WireError) {
            // A frame the replay window already refuses is dropped before its signature
            // is checked (the check is the costly step); it is recorded only once verified.
            let frame = try Self.openWithoutReplayCheck(bytes, keyring: keyring, channel: channel) { [replay] sender, epoch, seq in
                replay.wouldAccept(sender: sender, epoch: epoch, seq: seq)
            }
            guard replay.accept(sender: frame.sender, epoch: frame.epoch, seq: frame.seq) else {
                throw WireError.replayed(sender: frame.sender, epoch: frame.epoch, seq: frame.seq)
            }
            return frame
        } catch {
            rejected.record(error.reason)
            throw error
        }
    }

    public mutating func open(_ bytes: [UInt8], keyring: Keyring,
                              channel: FrameChannel = .datagram) throws(WireError) -> Frame {
        try open(bytes[...], keyring: keyring, channel: channel)
    }

    /// Size, version, seal and signature checks, with no replay state.
    public static func openWithoutReplayCheck(_ bytes: ArraySlice<UInt8>, keyring: Keyring,
                                              channel: FrameChannel) throws(WireError) -> Frame {
        try openWithoutReplayCheck(bytes, keyring: keyring, channel: channel) { _, _, _ in true }
    }

    /// As above; `isFresh` is asked after decryption and before the signature check, and a
    /// frame it refuses fails as `replayed`.
    static func openWithoutReplayCheck(_ bytes: ArraySlice<UInt8>, keyring: Keyring, channel: FrameChannel,
                                       isFresh: (NodeID, UInt64, UInt64) -> Bool) throws(WireError) -> Frame {
        guard bytes.count <= channel.maxBytes else { throw .oversized(size: bytes.count, limit: channel.maxBytes) }
        guard bytes.count >= WireLimits.frameOverheadBytes else {
            throw .truncated(needed: WireLimits.frameOverheadBytes, available: bytes.count)
        }
        let version = bytes[bytes.startIndex]
        guard version == SealedLayout.currentVersion else { throw .unknownVersion(version) }
        let sealed = bytes.dropFirst(SealedLayout.versionBytes)
        var plain: [UInt8]? = nil
        for key in keyring.keys {
            plain = key.open(sealed, additionalData: [version])
            if plain != nil { break }
        }
        guard let signed = plain else { throw .undecryptable }

        var r = ByteReader(signed)
        let senderKey = try r.readRaw(NodeID.byteCount)
        let epoch = try r.readUInt64()
        let seq = try r.readUInt64()
        let kindByte = try r.readUInt8()
        let bodyCount = Int(try r.readUInt32())
        guard bodyCount == r.remaining - SignedLayout.signatureBytes else {
            throw .malformed("body length \(bodyCount) does not match the frame (\(r.remaining - SignedLayout.signatureBytes))")
        }
        let sender = NodeID(publicKey: senderKey)!
        guard isFresh(sender, epoch, seq) else { throw .replayed(sender: sender, epoch: epoch, seq: seq) }
        let signedCount = signed.count - SignedLayout.signatureBytes
        let ok = signed.withUnsafeBytes { all in
            senderKey.withUnsafeBytes { key in
                SigningKeyPair.verify(signature: UnsafeRawBufferPointer(rebasing: all[signedCount...]),
                                      message: UnsafeRawBufferPointer(rebasing: all[..<signedCount]),
                                      publicKey: key)
            }
        }
        guard ok else { throw .badSignature }
        guard let kind = MessageKind(rawValue: kindByte) else { throw .unknownKind(kindByte) }
        let body = Array(try r.readRaw(bodyCount))
        return Frame(sender: sender, epoch: epoch, seq: seq, kind: kind, body: body)
    }
}
