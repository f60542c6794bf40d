import Glibc
import NIOCore

/// The system calls of the agent's UDP sockets, in one place.
///
/// The agent sends every datagram with `sendto` itself instead of through a NIO channel:
/// NIO's datagram channel closes its socket on any send error but `EMSGSIZE` and
/// `EHOSTUNREACH`, and one datagram to a blackholed route (`EINVAL`), a `prohibit` route
/// (`EACCES`), a firewall drop (`EPERM`) or a downed interface (`ENETUNREACH`) then left
/// the agent deaf for good. Here a failed send loses that datagram only.
enum UDPSocket {
    /// A new non-blocking UDP socket bound to `address`, with the given kernel buffers.
    static func bound(to address: SocketAddress, reuseAddress: Bool, receiveBufferBytes: Int?,
                      sendBufferBytes: Int?) throws(UDPSocketError) -> Int32 {
        let type = Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        let fd = Glibc.socket(address.protocol.rawValue, type, 0)
        guard fd >= 0 else { throw .system("socket", errno) }
        func option(_ name: Int32, _ value: Int) -> Int32 {
            var v = Int32(clamping: value)
            return setsockopt(fd, SOL_SOCKET, name, &v, socklen_t(MemoryLayout<Int32>.size))
        }
        var failed: (String, Int32)?
        if reuseAddress, option(SO_REUSEADDR, 1) != 0 { failed = ("setsockopt(SO_REUSEADDR)", errno) }
        // The buffers are a wish the kernel may trim (net.core.rmem_max); a refusal is not fatal.
        if let receiveBufferBytes { _ = option(SO_RCVBUF, receiveBufferBytes) }
        if let sendBufferBytes { _ = option(SO_SNDBUF, sendBufferBytes) }
        if failed == nil, address.withSockAddr({ Glibc.bind(fd, $0, socklen_t($1)) }) != 0 {
            failed = ("bind \(address)", errno)
        }
        if let (call, code) = failed {
            Glibc.close(fd)
            throw .system(call, code)
        }
        return fd
    }

    /// Sends `bytes` to `address` without blocking; 0, or the `errno` of the refusal.
    static func send(_ fd: Int32, _ bytes: [UInt8], to address: SocketAddress) -> Int32 {
        let n = bytes.withUnsafeBytes { b in
            address.withSockAddr { Glibc.sendto(fd, b.baseAddress, b.count, Int32(MSG_DONTWAIT), $0, socklen_t($1)) }
        }
        return n < 0 ? errno : 0
    }
}

enum UDPSocketError: Error, CustomStringConvertible {
    case unsupportedAddress(String)
    case system(String, Int32)

    var description: String {
        switch self {
        case let .unsupportedAddress(a): "cannot bind a UDP socket to \(a): not an IP address"
        case let .system(call, e): "\(call): \(String(cString: strerror(e)))"
        }
    }
}
