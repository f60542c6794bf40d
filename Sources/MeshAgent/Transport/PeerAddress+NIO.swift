import Membership
import NIOCore

extension PeerAddress {
    /// The core's view of a socket address; nil for a Unix socket.
    init?(_ address: SocketAddress) {
        switch address {
        case let .v4(a):
            let raw = UInt32(bigEndian: a.address.sin_addr.s_addr)
            self.init(UInt8(raw >> 24), UInt8(truncatingIfNeeded: raw >> 16), UInt8(truncatingIfNeeded: raw >> 8),
                      UInt8(truncatingIfNeeded: raw), port: UInt16(bigEndian: a.address.sin_port))
        case let .v6(a):
            var addr = a.address.sin6_addr
            let bytes = withUnsafeBytes(of: &addr) { Array($0) }
            self.init(ip: bytes, port: UInt16(bigEndian: a.address.sin6_port))
        case .unixDomainSocket:
            return nil
        }
    }

    /// The socket address to send to.
    var socketAddress: SocketAddress {
        var buffer = ByteBuffer(bytes: ip)
        // Only fails for a length other than 4 or 16, which PeerAddress rules out.
        return try! SocketAddress(packedIPAddress: buffer.readSlice(length: buffer.readableBytes)!, port: Int(port))
    }
}
