import MeshWire

/// A keyring change or query, as one agent asks every live member (Serf's key rotation:
/// install everywhere, use everywhere, remove everywhere). Sealed and signed like every
/// frame, so only holders of a cluster key can send one.
struct KeyringCommand: WireMessage, Equatable {
    static let kind = MessageKind.keyringCommand

    enum Operation: UInt8, Sendable, CaseIterable {
        case list = 0, install = 1, use = 2, remove = 3

        var name: String {
            switch self {
            case .list: "list"
            case .install: "install"
            case .use: "use"
            case .remove: "remove"
            }
        }
    }

    /// Chosen at random by the asking agent; replies and retransmissions carry it.
    var requestID: UInt64
    var operation: Operation
    /// The key's 32 bytes; empty for `list`.
    var key: [UInt8]

    init(requestID: UInt64, operation: Operation, key: [UInt8]) {
        self.requestID = requestID; self.operation = operation; self.key = key
    }

    func encode(into w: inout ByteWriter) {
        w.write(requestID); w.write(operation.rawValue); w.writeBlob(key)
    }

    init(decoding r: inout ByteReader) throws(WireError) {
        requestID = try r.readUInt64()
        let raw = try r.readUInt8()
        guard let op = Operation(rawValue: raw) else { throw .malformed("keyring operation \(raw)") }
        operation = op
        key = try r.readBlob(limit: ClusterKey.byteCount)
        guard key.isEmpty == (op == .list), key.isEmpty || key.count == ClusterKey.byteCount else {
            throw .malformed("keyring \(op.name) with a \(key.count)-byte key")
        }
    }
}

/// A member's answer to a `KeyringCommand`: whether it took the change, and the
/// fingerprints of the keys it holds afterwards (its primary first).
struct KeyringReply: WireMessage, Equatable {
    static let kind = MessageKind.keyringReply

    var requestID: UInt64
    /// Empty when the change was applied; the member's reason otherwise.
    var error: String
    var fingerprints: [String]

    init(requestID: UInt64, error: String, fingerprints: [String]) {
        self.requestID = requestID; self.error = error; self.fingerprints = fingerprints
    }

    func encode(into w: inout ByteWriter) {
        w.write(requestID); w.write(error); w.writeList(fingerprints) { w, f in w.write(f) }
    }

    init(decoding r: inout ByteReader) throws(WireError) {
        requestID = try r.readUInt64()
        error = try r.readString(limit: 512)
        fingerprints = try r.readList(limit: WireLimits.maxKeyringKeys, minElementBytes: 4) { (r: inout ByteReader) throws(WireError) in
            try r.readString(limit: 64)
        }
    }
}
