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

    @Test func statusCarriesCommitIndexAndVoterHealthAndNullsWithoutConsensus() throws {
        let voters = [VoterHealth(name: "a", id: "aa", status: "alive", leader: true),
                      VoterHealth(name: "b", id: "bb", status: "dead", leader: false)]
        let s = StatusInfo(id: "aa", name: "a", address: "127.0.0.1:1", addresses: ["127.0.0.1:1"], apiAddress: "127.0.0.1:2",
                           profile: "lan", members: ["alive": 1], leader: "a", term: 3, voters: ["a", "b"], quorumReachable: false,
                           consensus: "leader", uptimeSeconds: 1, leaving: false, commitIndex: 7, appliedIndex: 6, voterHealth: voters)
        let json = String(decoding: try JSONEncoder().encode(s), as: UTF8.self)
        for key in ["\"commit_index\":7", "\"applied_index\":6", "\"voter_health\"", "\"leader\":true"] {
            #expect(json.contains(key), "\(key) missing in \(json)")
        }
        #expect(try JSONDecoder().decode(StatusInfo.self, from: Data(json.utf8)) == s)
        var none = s
        none.commitIndex = nil; none.appliedIndex = nil; none.voterHealth = nil
        let nulls = String(decoding: try JSONEncoder().encode(none), as: UTF8.self)
        #expect(nulls.contains("\"commit_index\":null") && nulls.contains("\"voter_health\":null"))
    }
}
