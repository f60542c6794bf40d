import Membership
import NIOCore
import NIOPosix
import Synchronization

/// Push-pull over TCP on the mesh port: one length-prefixed sealed frame each way, then close.
enum StreamTransport {
    /// Sends `frame` to `address` and returns the peer's reply frame, bounded by `timeout`.
    static func exchange(_ frame: [UInt8], to address: SocketAddress, group: any EventLoopGroup,
                         timeout: Duration) async throws -> [UInt8] {
        try await withThrowingTaskGroup(of: [UInt8].self) { tasks in
            tasks.addTask {
                let channel = try await ClientBootstrap(group: group)
                    .connectTimeout(.nanoseconds(timeout.nanoseconds))
                    .connect(to: address) { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LengthPrefixedFrameDecoder()))
                            return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                        }
                    }
                return try await channel.executeThenClose { inbound, outbound in
                    try await outbound.write(LengthPrefixedFrameDecoder.frame(frame, allocator: channel.channel.allocator))
                    for try await reply in inbound { return Array(reply.readableBytesView) }
                    throw StreamFrameError.closedWithoutReply
                }
            }
            tasks.addTask {
                try await Task.sleep(for: timeout)
                throw StreamFrameError.timedOut(timeout)
            }
            defer { tasks.cancelAll() }
            return try await tasks.next()!
        }
    }

    /// Binds the TCP side of the mesh port; each connection carries one exchange answered
    /// by `runtime`.
    static func bindServer(host: String, port: Int, group: any EventLoopGroup, runtime: MeshRuntime) async throws -> any Channel {
        let open = InboundStreamCount()
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                // A connection beyond the limit is refused (closed) at once.
                guard open.acquire() else {
                    return channel.eventLoop.makeFailedFuture(StreamFrameError.tooManyConnections(limit: AgentLimits.maxInboundStreams))
                }
                channel.closeFuture.whenComplete { _ in open.release() }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LengthPrefixedFrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(StreamServerHandler(runtime: runtime))
                }
            }
            .bind(host: host, port: port).get()
    }
}

/// Inbound mesh connections open now, across event loops, bounded by
/// `AgentLimits.maxInboundStreams`.
final class InboundStreamCount: Sendable {
    private let open = Atomic<Int>(0)

    /// Takes a slot; false when all are taken.
    func acquire() -> Bool {
        if open.wrappingAdd(1, ordering: .relaxed).newValue <= AgentLimits.maxInboundStreams { return true }
        open.wrappingSubtract(1, ordering: .relaxed)
        return false
    }

    func release() { open.wrappingSubtract(1, ordering: .relaxed) }
}

/// Answers the one frame an inbound mesh TCP connection carries, then closes it. A
/// connection that sends nothing is closed after `AgentLimits.inboundStreamIdleTimeout`.
final class StreamServerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let runtime: MeshRuntime
    private var answered = false
    private var idleClose: Scheduled<Void>?

    init(runtime: MeshRuntime) { self.runtime = runtime }

    func channelActive(context: ChannelHandlerContext) {
        let channel = context.channel
        idleClose = context.eventLoop.scheduleTask(in: .nanoseconds(AgentLimits.inboundStreamIdleTimeout.nanoseconds)) {
            channel.close(promise: nil)
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleClose?.cancel()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return }
        answered = true
        let frame = Array(unwrapInboundIn(data).readableBytesView)
        let channel = context.channel
        guard let source = channel.remoteAddress.flatMap(PeerAddress.init) else {
            channel.close(promise: nil); return
        }
        let runtime = self.runtime
        let promise = context.eventLoop.makePromise(of: [UInt8]?.self)
        promise.completeWithTask { await runtime.answerStream(frame, from: source) }
        promise.futureResult.whenComplete { result in
            guard case let .success(reply?) = result else { channel.close(promise: nil); return }
            channel.writeAndFlush(LengthPrefixedFrameDecoder.frame(reply, allocator: channel.allocator))
                .whenComplete { _ in channel.close(promise: nil) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

extension StreamTransport {
    /// Sends one frame to `address` and closes, expecting no answer (event batches and
    /// digests, large Raft appends), bounded by `timeout`.
    static func deliver(_ frame: [UInt8], to address: SocketAddress, group: any EventLoopGroup,
                        timeout: Duration) async throws {
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                let channel = try await ClientBootstrap(group: group)
                    .connectTimeout(.nanoseconds(timeout.nanoseconds))
                    .connect(to: address) { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                        }
                    }
                try await channel.executeThenClose { _, outbound in
                    try await outbound.write(LengthPrefixedFrameDecoder.frame(frame, allocator: channel.channel.allocator))
                }
            }
            tasks.addTask {
                try await Task.sleep(for: timeout)
                throw StreamFrameError.timedOut(timeout)
            }
            defer { tasks.cancelAll() }
            try await tasks.next()!
        }
    }
}
