import Foundation

/// A UDP socket on 127.0.0.1 that sends test traffic at a bounded rate and for a bounded
/// time, and can wait (bounded) for one datagram.
final class UDPFlood {
    let fd: Int32

    init() throws {
        fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var addr = Self.loopback(port: 0)
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard ok == 0 else { close(fd); throw POSIXError(.EADDRINUSE) }
    }

    deinit { close(fd) }

    static func loopback(port: Int) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = in_port_t(UInt16(port).bigEndian)
        a.sin_addr.s_addr = in_addr_t(UInt32(0x7f00_0001).bigEndian)
        return a
    }

    func send(_ bytes: [UInt8], to port: Int) {
        var addr = Self.loopback(port: port)
        _ = bytes.withUnsafeBytes { buf in
            withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, buf.baseAddress, buf.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
    }

    /// Sends `next()` to `port` at `perSecond` for `duration`, in small paced bursts.
    /// Returns how many datagrams were sent.
    @discardableResult
    func flood(port: Int, perSecond: Int, for duration: Duration, _ next: (Int) -> [UInt8]) async -> Int {
        let burst = 50
        let start = ContinuousClock.now
        let end = start + duration
        var sent = 0
        while ContinuousClock.now < end {
            for _ in 0 ..< burst { send(next(sent), to: port); sent += 1 }
            // Wait until the schedule has caught up with what was sent.
            let due = start + .nanoseconds(Int64(sent) * 1_000_000_000 / Int64(perSecond))
            let now = ContinuousClock.now
            if due > now { try? await Task.sleep(until: due, clock: .continuous) }
        }
        return sent
    }

    /// One datagram, or nil after `timeout`.
    func receive(timeout: Duration) -> [UInt8]? {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ms = Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        guard poll(&pfd, 1, ms) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = recv(fd, &buffer, buffer.count, 0)
        return n > 0 ? Array(buffer[..<n]) : nil
    }
}
