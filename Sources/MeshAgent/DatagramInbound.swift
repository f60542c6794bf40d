import Membership
import NIOCore

/// One datagram as it arrived, before the runtime opens it.
struct InboundDatagram: Sendable {
    var bytes: [UInt8]
    var source: PeerAddress
}

/// The datagrams of one socket read, handed to the runtime in one hop.
struct InboundBatch: Sendable {
    var datagrams: [InboundDatagram]
    /// Batches dropped because the queue was full since the last batch that got through.
    var droppedBatchesBefore: UInt64
    var droppedDatagramsBefore: UInt64
}

/// Collects the datagrams of one read on the mesh socket and passes them to the runtime
/// through a bounded queue (`AgentLimits.inboundQueueBatches`). Runs on the channel's
/// event loop; it opens nothing itself, so a flood costs only a copy and a queue slot.
final class DatagramInboundHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let queue: AsyncStream<InboundBatch>.Continuation
    private var pending: [InboundDatagram] = []
    private var droppedBatches: UInt64 = 0
    private var droppedDatagrams: UInt64 = 0

    init(queue: AsyncStream<InboundBatch>.Continuation) { self.queue = queue }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let source = PeerAddress(envelope.remoteAddress) else { return }
        pending.append(InboundDatagram(bytes: Array(envelope.data.readableBytesView), source: source))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        guard !pending.isEmpty else { return }
        let batch = InboundBatch(datagrams: pending, droppedBatchesBefore: droppedBatches,
                                 droppedDatagramsBefore: droppedDatagrams)
        pending.removeAll(keepingCapacity: true)
        switch queue.yield(batch) {
        case .enqueued:
            droppedBatches = 0; droppedDatagrams = 0
        case .dropped:
            droppedBatches += 1; droppedDatagrams += UInt64(batch.datagrams.count)
        case .terminated:
            break
        @unknown default:
            break
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP port-unreachable and the like surface here on Linux; a datagram socket stays usable.
    }
}
