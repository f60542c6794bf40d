import MeshCore
import Testing

struct MeshCoreTests {
    @Test func nodeIDRoundTripsThroughBytesAndHex() {
        let key = (0 ..< 32).map { UInt8($0 * 7 & 0xff) }
        let id = NodeID(publicKey: key)!
        #expect(id.bytes == key)
        #expect(Hex.decode(id.hex) == key)
        #expect(id.description.count == 16)
        #expect(NodeID(publicKey: key.dropLast()) == nil)
    }

    @Test func hexRejectsBadInput() {
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("zz") == nil)
        #expect(Hex.decode("0aFF") == [0x0a, 0xff])
    }

    @Test func seededRandomIsReproducibleAndSpread() {
        var a = SeededRandom(seed: 42), b = SeededRandom(seed: 42), c = SeededRandom(seed: 43)
        let xs = (0 ..< 100).map { _ in a.next() }
        #expect(xs == (0 ..< 100).map { _ in b.next() })
        #expect(xs != (0 ..< 100).map { _ in c.next() })
        let units = (0 ..< 10_000).map { _ in a.nextUnit() }
        #expect(units.allSatisfy { $0 >= 0 && $0 < 1 })
        let mean = units.reduce(0, +) / Double(units.count)
        #expect(abs(mean - 0.5) < 0.02)
    }

    @Test func timeArithmetic() {
        let t = MeshTime.zero + .milliseconds(1500)
        #expect(t.nanoseconds == 1_500_000_000)
        #expect(t - MeshTime.zero == .milliseconds(1500))
        #expect(Duration.seconds(2).scaled(by: 1.5) == .seconds(3))
    }
}
