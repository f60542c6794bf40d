import Foundation
import Membership
import NIOPosix

/// Resolves `HOST:PORT` (a literal address or a host name) to the addresses the core
/// handles. Name lookups block, so they run on NIO's thread pool.
enum AddressResolver {
    /// Every IPv4 and IPv6 address of `host`, with `port`; literal addresses need no lookup.
    static func resolve(_ target: HostPort) async throws(ResolveError) -> [PeerAddress] {
        guard (1 ... 65535).contains(target.port) else { throw .badPort(target.description) }
        if let literal = PeerAddress(parsing: target.description) { return [literal] }
        do {
            return try await NIOThreadPool.singleton.runIfActive { try lookup(target) }
        } catch let error as ResolveError {
            throw error
        } catch {
            throw .lookupFailed(target.description, reason: "\(error)")
        }
    }

    /// Resolves each target; the ones that fail are returned with their reason.
    static func resolveAll(_ targets: [HostPort]) async -> (addresses: [PeerAddress], failures: [ResolveError]) {
        var addresses: [PeerAddress] = []
        var failures: [ResolveError] = []
        for target in targets {
            do { addresses += try await resolve(target) } catch { failures.append(error) }
        }
        var seen = Set<PeerAddress>()
        return (addresses.filter { seen.insert($0).inserted }, failures)
    }

    private static func lookup(_ target: HostPort) throws(ResolveError) -> [PeerAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(target.host, String(target.port), &hints, &result)
        guard status == 0, let first = result else {
            throw .lookupFailed(target.description, reason: String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(first) }
        var out: [PeerAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            if info.pointee.ai_family == AF_INET, let raw = info.pointee.ai_addr {
                let sin = raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee }
                let v = UInt32(bigEndian: sin.sin_addr.s_addr)
                out.append(PeerAddress(UInt8(v >> 24), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 8),
                                       UInt8(truncatingIfNeeded: v), port: UInt16(target.port)))
            } else if info.pointee.ai_family == AF_INET6, let raw = info.pointee.ai_addr {
                var sin6 = raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee }
                let bytes = withUnsafeBytes(of: &sin6.sin6_addr) { Array($0) }
                if let a = PeerAddress(ip: bytes, port: UInt16(target.port)) { out.append(a) }
            }
            cursor = info.pointee.ai_next
        }
        guard !out.isEmpty else { throw .lookupFailed(target.description, reason: "no IPv4 or IPv6 address") }
        return out
    }
}

/// Why an address could not be used.
enum ResolveError: Error, Sendable, CustomStringConvertible {
    case badPort(String)
    case lookupFailed(String, reason: String)

    var description: String {
        switch self {
        case let .badPort(a): "\(a): the port must be 1-65535"
        case let .lookupFailed(a, reason): "cannot resolve \(a): \(reason)"
        }
    }
}
