/// Every size limit of the wire, named in one place.
public enum WireLimits {
    /// The largest UDP datagram meshd sends or accepts. Chosen to fit a 1500-byte Ethernet
    /// MTU with IPv6 and UDP headers, so datagrams are never fragmented.
    public static let maxDatagramBytes = 1400
    /// The largest frame on a TCP stream (push-pull state sync, event batches).
    public static let maxStreamFrameBytes = 4 * 1024 * 1024
    /// The fixed overhead a sealed, signed frame adds around its body.
    public static let frameOverheadBytes = SealedLayout.headerBytes + SealedLayout.tagBytes
        + SignedLayout.headerBytes + SignedLayout.signatureBytes
    /// The largest body that fits in one datagram.
    public static let maxDatagramBodyBytes = maxDatagramBytes - frameOverheadBytes
    /// How many cluster keys a keyring holds at most (primary included).
    public static let maxKeyringKeys = 8
    /// How many senders the replay filter tracks; the least recently seen is forgotten first.
    public static let maxReplayTrackedSenders = 65_536
    /// How far behind the newest sequence number a frame may arrive and still be accepted
    /// (a reordering window, as in IPsec's anti-replay window).
    public static let replayWindowFrames: UInt64 = 64
    /// Largest string or byte field inside a message body.
    public static let maxFieldBytes = 64 * 1024
    /// Largest element count of a list inside a message body.
    public static let maxListElements = 100_000
}

/// Layout of the sealed (outer) envelope: version, nonce, ciphertext, tag.
public enum SealedLayout {
    public static let versionBytes = 1
    public static let nonceBytes = 24
    public static let headerBytes = versionBytes + nonceBytes
    public static let tagBytes = 16
    /// The only envelope version this build speaks.
    public static let currentVersion: UInt8 = 1
}

/// Layout of the signed (inner) frame: sender key, epoch, sequence, kind, body length,
/// body, Ed25519 signature over everything before it.
public enum SignedLayout {
    public static let headerBytes = 32 + 8 + 8 + 1 + 4
    public static let signatureBytes = 64
}
