import Glibc
@testable import MeshAgent
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// The mesh port's UDP socket keeps working through refused sends, and a socket that
/// closes under the agent is bound again on the same port.
struct MeshSocketTests {
    let errors = SocketErrorCounters(logger: .init(label: "test"))
    let loop = MultiThreadedEventLoopGroup.singleton.next()

    /// A UDP socket on 127.0.0.1 to receive on, and its address.
    func receiver() throws -> (fd: Int32, address: SocketAddress) {
        let fd = try UDPSocket.bound(to: try SocketAddress(ipAddress: "127.0.0.1", port: 0), reuseAddress: false,
                                     receiveBufferBytes: nil, sendBufferBytes: nil)
        var storage = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return (fd, try SocketAddress(ipAddress: "127.0.0.1", port: Int(in_port_t(bigEndian: storage.sin_port))))
    }

    func take(_ fd: Int32) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 2048)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        return n < 0 ? nil : Array(buffer.prefix(n))
    }

    @Test func aRefusedSendIsCountedAndTheSocketStaysOpen() async throws {
        let mesh = MeshDatagramSocket(address: try SocketAddress(ipAddress: "127.0.0.1", port: 0), loop: loop, errors: errors)
        let channel = try await mesh.bind()
        defer { mesh.closeSender(); channel.close(promise: nil) }
        // Broadcast without SO_BROADCAST: refused at once (EACCES). NIO's own datagram
        // channel closes itself on such an error; this socket must not.
        for _ in 0..<3 {
            #expect(!mesh.send([1, 2, 3], to: try SocketAddress(ipAddress: "255.255.255.255", port: 7600)))
        }
        #expect(errors.counts[.init(socket: .mesh, reason: .eacces)] == 3)
        #expect(channel.isActive)

        let (fd, address) = try receiver()
        defer { close(fd) }
        #expect(mesh.send([4, 5], to: address))
        #expect(take(fd) == [4, 5])
    }

    @Test func sendsLeaveFromTheMeshPort() async throws {
        let mesh = MeshDatagramSocket(address: try SocketAddress(ipAddress: "127.0.0.1", port: 0), loop: loop, errors: errors)
        let channel = try await mesh.bind()
        defer { mesh.closeSender(); channel.close(promise: nil) }
        let (fd, address) = try receiver()
        defer { close(fd) }
        #expect(mesh.send([9], to: address))
        var from = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        var byte: UInt8 = 0
        let n = withUnsafeMutablePointer(to: &from) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, &byte, 1, Int32(MSG_DONTWAIT), $0, &length) }
        }
        #expect(n == 1)
        #expect(Int(in_port_t(bigEndian: from.sin_port)) == channel.localAddress?.port)
    }

    @Test func aClosedSocketIsBoundAgainOnTheSamePortAndCounted() async throws {
        let mesh = MeshDatagramSocket(address: try SocketAddress(ipAddress: "127.0.0.1", port: 0), loop: loop, errors: errors)
        let supervisor = SocketSupervisor(socket: .mesh, errors: errors,
                                          backoff: .init(initial: .milliseconds(1), max: .milliseconds(4))) { try await mesh.bind() }
        let first = try await supervisor.start()
        let port = try #require(first.localAddress?.port)
        var events = supervisor.events.makeAsyncIterator()

        try await first.close()   // as NIO does after an error it deems fatal
        guard case .closed? = await events.next() else { Issue.record("no close seen"); return }
        #expect(!mesh.send([1], to: try SocketAddress(ipAddress: "127.0.0.1", port: port)), "nothing to send on meanwhile")
        #expect(errors.counts[.init(socket: .mesh, reason: .socketDown)] == 1)
        guard case .rebound? = await events.next() else { Issue.record("not bound again"); return }

        let second = try #require(supervisor.channel)
        #expect(second !== first)
        #expect(second.isActive)
        #expect(second.localAddress?.port == port, "peers know the mesh port; it must not move")
        #expect(errors.rebinds[.mesh] == 1)
        let (fd, address) = try receiver()
        defer { close(fd) }
        #expect(mesh.send([7], to: address))
        #expect(take(fd) == [7])

        await supervisor.stop()
        #expect(!second.isActive)
        #expect(errors.rebinds[.mesh] == 1, "a stop is not a failure")
        mesh.closeSender()
    }

    @Test func aBindThatFailsIsRetriedWithBackoff() async throws {
        let attempts = AttemptCounter()
        let supervisor = SocketSupervisor(socket: .meshListener, errors: errors,
                                          backoff: .init(initial: .milliseconds(1), max: .milliseconds(2))) {
            // The first bind works; the next two fail (the address is gone), then it works.
            let n = attempts.next()
            if n == 2 || n == 3 { throw UDPSocketError.system("bind", EADDRNOTAVAIL) }
            return try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        }
        let first = try await supervisor.start()
        var events = supervisor.events.makeAsyncIterator()
        try await first.close()
        var seen: [String] = []
        while let event = await events.next() {
            switch event {
            case .closed: seen.append("closed")
            case .bindFailed: seen.append("failed")
            case .rebound: seen.append("rebound")
            }
            if seen.last == "rebound" { break }
        }
        #expect(seen == ["closed", "failed", "failed", "rebound"])
        #expect(errors.rebinds[.meshListener] == 1)
        await supervisor.stop()
    }
}

final class AttemptCounter: Sendable {
    private let count = Mutex(0)
    func next() -> Int { count.withLock { $0 += 1; return $0 } }
}

