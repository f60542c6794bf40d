import Glibc
import MeshCore
@testable import MeshAgent
import MeshWire
import NIOCore
import Testing

/// The services' datagrams sent from their own threads: sealed in the same sequence as the
/// runtime's, with its current keyring, only to an address the runtime handed over.
struct DirectDatagramsTests {
    let identity = SigningKeyPair.generate().keyPair
    let member = SigningKeyPair.generate().keyPair.nodeID
    let keyring = Keyring(primary: ClusterKey.generate())

    /// A UDP socket on 127.0.0.1 to receive on, and its address.
    func receiver() throws -> (fd: Int32, address: SocketAddress) {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #expect(fd >= 0)
        let any = try SocketAddress(ipAddress: "127.0.0.1", port: 0)
        #expect(any.withSockAddr { bind(fd, $0, socklen_t($1)) } == 0)
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        #expect(named == 0)
        let port = withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { in_port_t(bigEndian: $0.pointee.sin_port) } }
        return (fd, try SocketAddress(ipAddress: "127.0.0.1", port: Int(port)))
    }

    /// The datagram waiting on `fd`, if any (loopback delivers within `sendto`).
    func take(_ fd: Int32) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 2048)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        return n < 0 ? nil : Array(buffer.prefix(n))
    }

    func sender() throws -> DirectDatagrams {
        let direct = DirectDatagrams(sealing: DatagramSealing(sealer: FrameSealer(identity: identity, epoch: 5), keyring: keyring),
                                     errors: SocketErrorCounters(logger: .init(label: "test")))
        try direct.open(beside: try SocketAddress(ipAddress: "127.0.0.1", port: 0))
        return direct
    }

    @Test func sendsOnlyToAnAddressTheRuntimeHandedOverAndInTheRuntimesSequence() throws {
        let (fd, address) = try receiver()
        defer { close(fd) }
        let direct = try sender()
        #expect(!direct.send(kind: .raftAppendEntries, body: [1, 2, 3], to: member), "no address yet: the runtime sends")
        #expect(take(fd) == nil)

        // The runtime seals one (as `sendDatagram` does) and hands over the address.
        var opener = FrameOpener()
        let viaRuntime = try opener.open(try direct.sealing.seal(kind: .ping, body: [9]), keyring: keyring)
        direct.learn(member, at: address)
        #expect(direct.send(kind: .raftAppendEntries, body: [1, 2, 3], to: member))
        let bytes = try #require(take(fd))
        let frame = try opener.open(bytes, keyring: keyring)
        #expect(frame.sender == identity.nodeID)
        #expect(frame.kind == .raftAppendEntries)
        #expect(frame.body == [1, 2, 3])
        #expect(frame.seq == viaRuntime.seq + 1, "one sequence for both paths, or the replay window refuses one")
        #expect(direct.counts.sent == 1)
        #expect(direct.counts.bytes == UInt64(bytes.count))

        direct.forget(member)
        #expect(!direct.send(kind: .raftAppendEntries, body: [4], to: member), "membership changed: ask the runtime again")
        #expect(take(fd) == nil)
    }

    @Test func sealsWithTheKeyringTheRuntimeSetLast() throws {
        let (fd, address) = try receiver()
        defer { close(fd) }
        let direct = try sender()
        direct.learn(member, at: address)
        let rotated = Keyring(primary: ClusterKey.generate())
        direct.sealing.setKeyring(rotated)
        #expect(direct.send(kind: .raftVoteResponse, body: [7], to: member))
        let bytes = try #require(take(fd))
        var opener = FrameOpener()
        #expect(throws: WireError.self) { try opener.open(bytes, keyring: keyring) }
        #expect(try opener.open(bytes, keyring: rotated).body == [7])
    }

    @Test func anotherAddressFamilyOrAnOversizedBodyGoesThroughTheRuntime() throws {
        let direct = try sender()
        direct.learn(member, at: try SocketAddress(ipAddress: "::1", port: 7946))
        #expect(!direct.send(kind: .raftAppendEntries, body: [1], to: member))
        let (fd, address) = try receiver()
        defer { close(fd) }
        direct.learn(member, at: address)
        #expect(!direct.send(kind: .raftAppendEntries, body: [UInt8](repeating: 0, count: WireLimits.maxDatagramBytes), to: member))
        #expect(take(fd) == nil)
        #expect(direct.counts.sent == 0)
    }

    @Test func aRefusedSendLosesThatDatagramOnlyAndIsCountedByReason() throws {
        let direct = try sender()
        // A broadcast address without SO_BROADCAST: the kernel refuses at once (EACCES),
        // as it does for a `prohibit` route.
        direct.learn(member, at: try SocketAddress(ipAddress: "255.255.255.255", port: 7600))
        #expect(direct.send(kind: .raftAppendEntries, body: [1], to: member), "handled here: lost, not handed back")
        #expect(direct.errors.counts[.init(socket: .services, reason: .eacces)] == 1)
        #expect(direct.counts.sent == 0)

        let (fd, address) = try receiver()
        defer { close(fd) }
        direct.learn(member, at: address)
        #expect(direct.send(kind: .raftAppendEntries, body: [2], to: member))
        #expect(try #require(take(fd)).count > 0, "the socket still sends after a refusal")
        #expect(direct.counts.sent == 1)
    }
}
