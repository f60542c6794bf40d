import MeshCore
@testable import Membership
import MeshWire
import Testing

struct CodecTests {
    static let samples: [MembershipMessage] = {
        let a = alive(2, 7).with(addresses: [address(2), PeerAddress(ip: Array(repeating: 0xfe, count: 16), port: 7600)!],
                                 metadata: MemberMetadata(tags: ["arch": "arm64"], apiAddress: "10.0.0.2:7601", resources: ["cpu_free": "3.5"]))
        let updates: [Update] = [.alive(a), .suspect(id: nodeID(3), incarnation: Incarnation(2), from: nodeID(1)),
                                 .dead(id: nodeID(4), incarnation: Incarnation(9), from: nodeID(4))]
        var coord = Coordinate(); coord.vector[3] = 0.0012
        return [
            .ping(Ping(seq: 1, target: nodeID(2), coordinate: coord, updates: updates)),
            .ping(Ping(seq: .max, target: nodeID(2), coordinate: nil, updates: [])),
            .pingRequest(PingRequest(seq: 2, target: nodeID(3), targetAddresses: [address(3)], wantsNack: true, updates: updates)),
            .ack(Ack(seq: 3, coordinate: coord, updates: updates)),
            .nack(Nack(seq: 4, updates: [])),
            .gossip(Gossip(updates: updates)),
            .pushPull(PushPull(isJoin: true, isReply: false, states: [MemberState(alive: a, status: .suspect, coordinate: coord)])),
        ]
    }()

    @Test func everyMembershipMessageRoundTrips() throws {
        for m in Self.samples {
            #expect(try MembershipMessage.decode(kind: m.kind, body: m.encoded) == m)
        }
        #expect(Set(Self.samples.map(\.kind)) == [.ping, .pingRequest, .ack, .nack, .gossip, .pushPull])
    }

    @Test func updateSizesMatchTheirEncoding() {
        for m in Self.samples {
            if case let .gossip(g) = m {
                #expect(g.updates.map(\.encodedSize).reduce(0, +) + MembershipMessage.gossipFixedBytes == m.encoded.count)
            }
        }
    }

    @Test func mutatedBodiesFailWithTypedErrorsOnly() {
        var rng = SeededRandom(seed: 2026)
        var decoded = 0, refused = 0
        for i in 0 ..< 20_000 {
            let m = Self.samples[i % Self.samples.count]
            var body = m.encoded
            switch i % 3 {
            case 0: body[Int(rng.next() % UInt64(body.count))] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
            case 1: body = Array(body.prefix(Int(rng.next() % UInt64(body.count))))
            default: body = (0 ..< Int(rng.next() % 300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            }
            do { _ = try MembershipMessage.decode(kind: m.kind, body: body); decoded += 1 } catch { _ = error.reason; refused += 1 }
        }
        #expect(decoded + refused == 20_000)
        #expect(refused > 10_000)
    }

    @Test func sealedAndSignedThroughTheWire() throws {
        let id = SigningKeyPair.generate().keyPair
        let ring = Keyring(primary: ClusterKey.generate())
        var sealer = FrameSealer(identity: id, epoch: 1)
        var opener = FrameOpener()
        for m in Self.samples {
            let bytes = try sealer.seal(kind: m.kind, body: m.encoded, keyring: ring)
            let frame = try opener.open(bytes, keyring: ring)
            #expect(frame.sender == id.nodeID)
            #expect(try MembershipMessage.decode(kind: frame.kind, body: frame.body) == m)
        }
    }

    @Test func peerAddressParsing() {
        #expect(PeerAddress(parsing: "10.0.0.5:7600") == PeerAddress(10, 0, 0, 5, port: 7600))
        #expect(PeerAddress(parsing: "[::1]:7600")?.ip == Array(repeating: 0, count: 15) + [1])
        #expect(PeerAddress(parsing: "[fe80::1:2]:1")?.host == "fe80:0:0:0:0:0:1:2")
        #expect(PeerAddress(parsing: "10.0.0:7600") == nil)
        #expect(PeerAddress(parsing: "[::1]7600") == nil)
    }
}
