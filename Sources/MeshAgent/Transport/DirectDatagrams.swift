import Glibc
import MeshCore
import MeshWire
import NIOCore
import Synchronization

/// This node's datagram sealer and keyring, shared by the runtime's thread and the
/// services' own threads. One sequence of frame numbers for all of them: a receiver keeps
/// one replay window per sender, and two counters would refuse each other's frames.
final class DatagramSealing: Sendable {
    private struct State {
        var sealer: FrameSealer
        var keyring: Keyring
    }

    private let state: Mutex<State>

    init(sealer: FrameSealer, keyring: Keyring) {
        state = Mutex(State(sealer: sealer, keyring: keyring))
    }

    /// The runtime calls this whenever its keyring changes (a rotation).
    func setKeyring(_ keyring: Keyring) { state.withLock { $0.keyring = keyring } }

    func seal(kind: MessageKind, body: [UInt8]) throws(WireError) -> [UInt8] {
        try state.withLock { (s: inout State) throws(WireError) -> [UInt8] in
            try s.sealer.seal(kind: kind, body: body, keyring: s.keyring)
        }
    }
}

/// Sends the services' datagrams (Raft's, the event log's) from the thread that made
/// them, on a socket of their own, instead of handing each to the mesh socket's event
/// loop: one thread hand-off fewer per message, on the path a write waits on twice (the
/// leader's AppendEntries, the follower's answer).
///
/// - The socket is bound to the mesh socket's address with a port of the kernel's
///   choosing, and only sends: everything still arrives on the mesh port. Receivers tell
///   the sender by its signature, never by the source port.
/// - A member's address is the one the runtime last sent to it (`learn`), for at most
///   `routeTTL`; the runtime forgets it when membership changes the member's state.
///   Without a fresh address, or for another address family, `send` returns false and the
///   message goes through the runtime as before, which checks the member is alive.
final class DirectDatagrams: Sendable {
    /// How long an address the runtime handed over is used before the runtime is asked
    /// again (which also checks the member is still alive or suspect).
    static let routeTTL = TimeAmount.seconds(1)

    private struct Route {
        var address: SocketAddress
        var until: NIODeadline
    }

    private struct Socket {
        var fd: Int32
        var family: NIOBSDSocket.ProtocolFamily
    }

    let sealing: DatagramSealing
    let errors: SocketErrorCounters
    private let routes = Mutex<[NodeID: Route]>([:])
    private let socket = Mutex<Socket?>(nil)
    private let sent = Atomic<UInt64>(0)
    private let bytes = Atomic<UInt64>(0)

    init(sealing: DatagramSealing, errors: SocketErrorCounters) { self.sealing = sealing; self.errors = errors }

    deinit { close() }

    /// Opens the sending socket beside the mesh socket bound at `local`.
    func open(beside local: SocketAddress) throws(UDPSocketError) {
        guard let ip = local.ipAddress, let bindAddress = try? SocketAddress(ipAddress: ip, port: 0) else {
            throw .unsupportedAddress("\(local)")
        }
        let fd = try UDPSocket.bound(to: bindAddress, reuseAddress: false, receiveBufferBytes: nil,
                                     sendBufferBytes: AgentLimits.socketSendBufferBytes)
        let previous = socket.withLock { s in
            defer { s = Socket(fd: fd, family: bindAddress.protocol) }
            return s?.fd
        }
        if let previous { Glibc.close(previous) }
    }

    func close() {
        if let fd = socket.withLock({ s in defer { s = nil }; return s?.fd }) { Glibc.close(fd) }
    }

    /// The address the runtime just sent `member` a datagram at.
    func learn(_ member: NodeID, at address: SocketAddress) {
        let until = NIODeadline.now() + Self.routeTTL
        routes.withLock { $0[member] = Route(address: address, until: until) }
    }

    /// Membership changed what it knows of `member`: ask the runtime again.
    func forget(_ member: NodeID) { _ = routes.withLock { $0.removeValue(forKey: member) } }

    /// Seals and sends a datagram to `member` from the calling thread; false, with nothing
    /// sealed or sent, when the runtime must send it instead.
    func send(kind: MessageKind, body: [UInt8], to member: NodeID) -> Bool {
        let now = NIODeadline.now()
        guard let socket = socket.withLock({ $0 }),
              let address = routes.withLock({ $0[member].flatMap { $0.until > now ? $0.address : nil } }),
              address.protocol == socket.family,
              let frame = try? sealing.seal(kind: kind, body: body) else { return false }
        let code = UDPSocket.send(socket.fd, frame, to: address)
        if code == 0 {
            sent.add(1, ordering: .relaxed)
            bytes.add(UInt64(frame.count), ordering: .relaxed)
        } else {
            // Lost, like any datagram; the socket stays open.
            errors.recordSend(.services, errno: code, to: address)
        }
        return true
    }

    /// Datagrams and bytes sent.
    var counts: (sent: UInt64, bytes: UInt64) {
        (sent.load(ordering: .relaxed), bytes.load(ordering: .relaxed))
    }
}
