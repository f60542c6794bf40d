import Glibc
import NIOCore
import NIOPosix
import Synchronization

/// The mesh port's UDP socket. NIO reads it (on `loop`, the runtime's executor); the agent
/// writes it with `sendto` on a duplicate of the same descriptor, so every datagram still
/// leaves from the mesh port and a failed send never closes the socket (`UDPSocket`).
///
/// `bind()` makes a new socket each time: the `SocketSupervisor` calls it again when the
/// channel closes. Until the new one is bound, sends are counted as `socket_down` and lost,
/// as datagrams may be.
final class MeshDatagramSocket: Sendable {
    let loop: any EventLoop
    let errors: SocketErrorCounters
    /// Where to bind: the configured address first, then the port the first bind got
    /// (for `--bind HOST:0`), so a re-bound socket keeps the port peers know.
    private let address: Mutex<SocketAddress>
    private let sendFD = Mutex<Int32?>(nil)
    /// The runtime the inbound handler hands datagrams to, once attached.
    private let runtime = Mutex<MeshRuntime?>(nil)

    init(address: SocketAddress, loop: any EventLoop, errors: SocketErrorCounters) {
        self.address = Mutex(address)
        self.loop = loop
        self.errors = errors
    }

    deinit { closeSender() }

    /// The address the socket is bound to.
    var boundAddress: SocketAddress { address.withLock { $0 } }

    /// Binds a new socket and returns the channel that reads it; later sends use it.
    func bind() async throws -> any Channel {
        let target = address.withLock { $0 }
        let fd = try UDPSocket.bound(to: target, reuseAddress: true,
                                     receiveBufferBytes: AgentLimits.socketReceiveBufferBytes,
                                     sendBufferBytes: AgentLimits.socketSendBufferBytes)
        let sender = fcntl(fd, F_DUPFD_CLOEXEC, 0)
        guard sender >= 0 else {
            let e = errno
            Glibc.close(fd)
            throw UDPSocketError.system("dup", e)
        }
        let attached = runtime.withLock { $0 }
        let channel: any Channel
        do {
            channel = try await DatagramBootstrap(group: loop)
                .channelOption(.maxMessagesPerRead, value: UInt(AgentLimits.datagramsPerRead))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let handler = DatagramInboundHandler()
                        try channel.pipeline.syncOperations.addHandler(handler)
                        if let attached { handler.attach(attached) }
                    }
                }
                .withBoundSocket(fd).get()
        } catch {
            Glibc.close(sender)
            throw error
        }
        if let local = channel.localAddress { address.withLock { $0 = local } }
        let previous = sendFD.withLock { s in defer { s = sender }; return s }
        if let previous { Glibc.close(previous) }
        // The descriptor NIO reads is closed with its channel; the sending duplicate goes
        // with it, so the port is free for the next bind.
        channel.closeFuture.whenComplete { [self] _ in
            let mine = sendFD.withLock { s -> Int32? in
                guard s == sender else { return nil }
                s = nil
                return sender
            }
            if let mine { Glibc.close(mine) }
        }
        return channel
    }

    /// From now on, datagrams read (on this and every later socket) go to `runtime`. Call
    /// on `loop`, with the current channel's handler attached by the caller.
    func attach(_ runtime: MeshRuntime) { self.runtime.withLock { $0 = runtime } }

    /// Sends one datagram; false, counted by reason, when the kernel refused it.
    func send(_ bytes: [UInt8], to address: SocketAddress) -> Bool {
        // Under the lock, so the descriptor cannot be closed (and its number reused) mid-send.
        let code = sendFD.withLock { fd -> Int32? in fd.map { UDPSocket.send($0, bytes, to: address) } }
        switch code {
        case 0?: return true
        case nil: errors.count(.mesh, .socketDown)
        case let code?: errors.recordSend(.mesh, errno: code, to: address)
        }
        return false
    }

    /// Closes the sending descriptor (at stop, with the channel).
    func closeSender() {
        if let fd = sendFD.withLock({ s in defer { s = nil }; return s }) { Glibc.close(fd) }
    }
}
