import Glibc
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The agent's sockets, as the `socket` label of the socket metrics.
enum AgentSocket: String, CaseIterable, Sendable {
    /// The mesh port's UDP socket: membership, and the services' datagrams sent through the runtime.
    case mesh
    /// The services' send-only UDP socket (`DirectDatagrams`).
    case services
    /// TCP connections to other members (push-pull, node queries, one-way stream frames).
    case stream
    /// The mesh port's TCP listener.
    case meshListener = "mesh_listener"
    /// The HTTP API's listener.
    case api
}

/// Why the kernel refused a send or a connection, as the `reason` label of
/// `meshd_send_errors_total`: the errno's name, lower-cased, so an operator can look it up.
/// A blackhole route gives `einval`, an `unreachable` route `ehostunreach`, a `prohibit`
/// route `eacces`, a firewall drop `eperm`, an interface down `enetunreach`, an address
/// removed from under a bound socket `einval` or `eaddrnotavail`, a full send buffer `eagain`.
enum SocketErrorReason: String, CaseIterable, Sendable {
    case einval, ehostunreach, enetunreach, enetdown, eacces, eperm, eaddrnotavail
    case econnrefused, econnreset, etimedout, enobufs, eagain, emsgsize, other
    /// Not the kernel's: the message could not be sealed (too large for its channel).
    case unsealable
    /// Not the kernel's: the member is not alive or suspect, or has no address.
    case notAlive = "not_alive"
    /// Not the kernel's: the socket had closed and was being bound again.
    case socketDown = "socket_down"

    init(errno code: Int32) {
        switch code {
        case EINVAL: self = .einval
        case EHOSTUNREACH: self = .ehostunreach
        case ENETUNREACH: self = .enetunreach
        case ENETDOWN: self = .enetdown
        case EACCES: self = .eacces
        case EPERM: self = .eperm
        case EADDRNOTAVAIL: self = .eaddrnotavail
        case ECONNREFUSED: self = .econnrefused
        case ECONNRESET, EPIPE: self = .econnreset
        case ETIMEDOUT: self = .etimedout
        case ENOBUFS, ENOMEM: self = .enobufs
        case EAGAIN: self = .eagain
        case EMSGSIZE: self = .emsgsize
        default: self = .other
        }
    }

    /// The reason of a failed connect or write on a TCP channel.
    init(_ error: any Error) {
        switch error {
        case let e as IOError: self.init(errno: e.errnoCode)
        case let e as NIOConnectionError:
            self = e.connectionErrors.first.map { SocketErrorReason($0.error) } ?? .other
        case ChannelError.connectTimeout, StreamFrameError.timedOut: self = .etimedout
        default: self = .other
        }
    }
}

/// Counts every send the kernel refused, by socket and reason, and logs at most one such
/// failure per peer per `AgentLimits.sendErrorLogInterval`: a peer behind a dead route
/// fails every probe, and one line a minute says so without flooding the log.
///
/// A failed send loses that message only; no socket is closed for it. Shared by the
/// runtime's thread and the services' threads.
final class SocketErrorCounters: Sendable {
    struct Key: Hashable, Sendable {
        var socket: AgentSocket
        var reason: SocketErrorReason
    }

    private struct State {
        var counts: [Key: UInt64] = [:]
        var rebinds: [AgentSocket: UInt64] = [:]
        /// When each peer's last failure was logged (at most `AgentLimits.sendErrorLogPeers`).
        var lastLogged: [String: NIODeadline] = [:]
    }

    private let state = Mutex(State())
    let logger: Logger

    init(logger: Logger) { self.logger = logger }

    /// Records a refused send of `socket` to `peer`.
    func record(_ socket: AgentSocket, _ reason: SocketErrorReason, peer: String, detail: String) {
        let now = NIODeadline.now()
        let interval = TimeAmount.nanoseconds(Int64(AgentLimits.sendErrorLogInterval.nanoseconds))
        let log = state.withLock { s -> Bool in
            s.counts[Key(socket: socket, reason: reason), default: 0] &+= 1
            if let last = s.lastLogged[peer], now - last < interval { return false }
            if s.lastLogged[peer] == nil, s.lastLogged.count >= AgentLimits.sendErrorLogPeers {
                s.lastLogged = s.lastLogged.filter { now - $0.value < interval }
                guard s.lastLogged.count < AgentLimits.sendErrorLogPeers else { return false }
            }
            s.lastLogged[peer] = now
            return true
        }
        guard log else { return }
        logger.warning("send failed; the message is lost, the socket stays open", metadata: [
            "socket": "\(socket.rawValue)", "peer": "\(peer)", "reason": "\(reason.rawValue)", "error": "\(detail)",
            "next_log": "counted in meshd_send_errors_total, logged again for this peer after \(AgentLimits.sendErrorLogInterval)",
        ])
    }

    /// Counts a message that was not sent, without logging it (the caller logs what needs it).
    func count(_ socket: AgentSocket, _ reason: SocketErrorReason) {
        state.withLock { $0.counts[Key(socket: socket, reason: reason), default: 0] &+= 1 }
    }

    /// Records a failed `sendto` (its `errno`).
    func recordSend(_ socket: AgentSocket, errno code: Int32, to address: SocketAddress) {
        record(socket, SocketErrorReason(errno: code), peer: Self.peerName(address), detail: String(cString: strerror(code)))
    }

    /// Records a failed TCP connection or write to `address`.
    func recordStream(_ error: any Error, to address: SocketAddress) {
        record(.stream, SocketErrorReason(error), peer: Self.peerName(address), detail: "\(error)")
    }

    /// A socket of `socket`'s kind was bound again after it closed.
    func recordRebind(_ socket: AgentSocket) { state.withLock { $0.rebinds[socket, default: 0] &+= 1 } }

    var counts: [Key: UInt64] { state.withLock { $0.counts } }
    var rebinds: [AgentSocket: UInt64] { state.withLock { $0.rebinds } }

    private static func peerName(_ address: SocketAddress) -> String {
        guard let ip = address.ipAddress, let port = address.port else { return "\(address)" }
        return "\(ip):\(port)"
    }
}
