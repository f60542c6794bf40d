/// A protocol message with a binary codec. Each layer defines its messages and encodes
/// them with `ByteWriter`/`ByteReader`; decoding fails only with a typed `WireError`.
public protocol WireMessage: Sendable {
    static var kind: MessageKind { get }
    func encode(into writer: inout ByteWriter)
    init(decoding reader: inout ByteReader) throws(WireError)
}

extension WireMessage {
    /// The encoded body.
    public var encoded: [UInt8] {
        var w = ByteWriter(); encode(into: &w); return w.bytes
    }

    /// Decodes a whole body; trailing bytes are an error.
    public static func decode(_ body: [UInt8]) throws(WireError) -> Self {
        var r = ByteReader(body)
        let m = try Self(decoding: &r)
        try r.expectEnd()
        return m
    }
}
