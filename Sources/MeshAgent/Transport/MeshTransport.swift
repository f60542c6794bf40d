import MeshCore
import MeshWire

/// How the agent's services reach another member: the runtime seals and signs the body,
/// finds the member's address, and sends it as a datagram or a stream frame.
protocol MeshTransport: Sendable {
    func send(kind: MessageKind, body: [UInt8], to member: NodeID, channel: FrameChannel) async
    /// Hands the message over without waiting; false when this transport cannot, and then
    /// the caller uses `send` for every message. Stream frames keep the order of this
    /// caller's posts; datagrams, like UDP itself, may be reordered.
    func post(kind: MessageKind, body: [UInt8], to member: NodeID, channel: FrameChannel) -> Bool
}

extension MeshTransport {
    func post(kind: MessageKind, body: [UInt8], to member: NodeID, channel: FrameChannel) -> Bool { false }
}

extension FrameChannel {
    /// The channel a body of this size needs.
    static func fitting(_ bodyBytes: Int) -> FrameChannel {
        bodyBytes + WireLimits.frameOverheadBytes <= WireLimits.maxDatagramBytes ? .datagram : .stream
    }
}
