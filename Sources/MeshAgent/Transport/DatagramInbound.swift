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
    /// Batches dropped while the runtime was not attached yet and `AgentLimits.inboundQueueBatches`
    /// were waiting, since the last batch that got through.
    var droppedBatchesBefore: UInt64
    var droppedDatagramsBefore: UInt64
}

/// Collects the datagrams of one read on the mesh socket and hands them to the runtime on
/// this same thread: the runtime's executor is this channel's event loop, so a batch costs
/// no hand-off. Until the agent has attached the runtime (its services are still opening
/// their databases), batches wait here, at most `AgentLimits.inboundQueueBatches`; beyond
/// it new batches are dropped and counted. Once attached, nothing queues in the agent: a
/// flood backs up in the socket's receive buffer, where the kernel drops and counts it.
final class DatagramInboundHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private var runtime: MeshRuntime?
    private var pending: [InboundDatagram] = []
    private var waiting: [InboundBatch] = []
    private var droppedBatches: UInt64 = 0
    private var droppedDatagrams: UInt64 = 0

    init() {}

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
        if let runtime {
            droppedBatches = 0; droppedDatagrams = 0
            runtime.assumeIsolated { $0.deliver(batch) }
        } else if waiting.count < AgentLimits.inboundQueueBatches {
            droppedBatches = 0; droppedDatagrams = 0
            waiting.append(batch)
        } else {
            droppedBatches += 1; droppedDatagrams += UInt64(batch.datagrams.count)
        }
    }

    /// Starts handing batches to `runtime`, first those that waited. Call on the channel's
    /// event loop, which must be the runtime's `loop`.
    func attach(_ runtime: MeshRuntime) {
        self.runtime = runtime
        let batches = waiting
        waiting = []
        runtime.assumeIsolated { runtime in
            for batch in batches { runtime.deliver(batch) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP port-unreachable and the like surface here on Linux; a datagram socket stays usable.
    }
}
