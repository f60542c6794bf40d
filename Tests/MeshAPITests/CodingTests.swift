import Foundation
import MeshAPI
import Testing

struct CodingTests {
    @Test func memberFieldsAreSnakeCase() throws {
        let m = MemberInfo(name: "a", id: String(repeating: "ab", count: 32), address: "127.0.0.1:1", addresses: ["127.0.0.1:1"],
                           status: "alive", incarnation: 2, role: "member", tags: ["k": "v"], apiAddress: "127.0.0.1:2",
                           rttMs: 0.5, coordinate: nil, isSelf: true)
        let json = String(decoding: try JSONEncoder().encode(m), as: UTF8.self)
        for key in ["\"rtt_ms\"", "\"api_address\"", "\"incarnation\"", "\"role\"", "\"self\""] {
            #expect(json.contains(key), "\(key) missing in \(json)")
        }
        #expect(try JSONDecoder().decode(MemberInfo.self, from: Data(json.utf8)) == m)
    }
}
