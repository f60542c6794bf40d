import Foundation
import MeshAPI
@testable import MeshAgent
import Testing

struct PeersSnapshotTests {
    func member(_ i: Int, _ status: String = "alive", isSelf: Bool = false) -> MemberInfo {
        MemberInfo(name: "n\(i)", id: String(repeating: "a", count: 64), address: "10.0.0.\(i):7600", addresses: [],
                   status: status, incarnation: 0, role: "member", tags: [:], apiAddress: nil, rttMs: nil,
                   coordinate: nil, isSelf: isSelf)
    }

    @Test func aSampleHoldsLiveOthersOnlyAtMostTheLimitAndIsDrawnAgainOnlyOnAChange() throws {
        let members = [member(0, isSelf: true), member(1), member(2, "dead"), member(3, "left"), member(4, "suspect")]
            + (10 ..< 40).map { member($0) }
        let first = try #require(PeersSnapshot.sample(members, previous: []))
        #expect(first.peers.count == AgentLimits.rejoinPeers)
        #expect(first.live.count == 31)
        #expect(!first.live.contains("10.0.0.0:7600") && !first.live.contains("10.0.0.2:7600"))
        #expect(Set(first.peers.map(\.description)).isSubset(of: first.live))
        #expect(PeersSnapshot.sample(members, previous: first.live) == nil)
        #expect(PeersSnapshot.sample(members.dropLast(), previous: first.live) != nil)
    }

    @Test func aSavedFileLoadsBackAndBadLinesAreSkipped() throws {
        let dir = NSTemporaryDirectory() + "meshd-peers-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let snapshot = PeersSnapshot(dataDir: dir)
        #expect(snapshot.load().isEmpty)
        let peers = [HostPort(host: "10.0.0.1", port: 7600), HostPort(host: "fe80::1", port: 7600)]
        try snapshot.save(peers)
        #expect(snapshot.load() == peers)
        try "10.0.0.1:7600\nnot an address\n10.0.0.2:0\n\n[fe80::2]:7601\n".write(toFile: snapshot.path, atomically: true, encoding: .utf8)
        #expect(snapshot.load() == [HostPort(host: "10.0.0.1", port: 7600), HostPort(host: "fe80::2", port: 7601)])
    }
}
