import MeshAPI
import MeshCore
import MeshWire
import Membership

extension MeshRuntime {
    /// Every member as the API shows it, this agent included, sorted by name.
    func memberInfos() -> [MemberInfo] {
        membership.members.map(memberInfo).sorted { ($0.name, $0.id) < ($1.name, $1.id) }
    }

    func memberInfo(_ m: MemberSnapshot) -> MemberInfo {
        let isSelf = m.id == identity.nodeID
        let coordinate = isSelf ? membership.coordinate : m.coordinate
        return MemberInfo(
            name: m.name, id: m.id.hex,
            address: (m.answeredAddress ?? m.addresses.first).map(\.description) ?? "",
            addresses: m.addresses.map(\.description),
            status: m.status.description, incarnation: m.incarnation.value,
            role: "member",   // leader/voter come with consensus (a later issue)
            tags: m.metadata.tags,
            apiAddress: m.metadata.apiAddress.isEmpty ? nil : m.metadata.apiAddress,
            rttMs: m.rtt.map { $0.seconds * 1000 },
            coordinate: coordinate.map { CoordinateInfo(vector: $0.vector, height: $0.height, error: $0.error, adjustment: $0.adjustment) },
            isSelf: isSelf)
    }

    /// This agent and the member counts by status.
    func statusInfo() -> StatusInfo {
        var counts = Dictionary(uniqueKeysWithValues: MemberStatus.allCases.map { ($0.description, 0) })
        for m in membership.members { counts[m.status.description, default: 0] += 1 }
        return StatusInfo(
            id: identity.nodeID.hex, name: localName,
            address: localAddresses.first?.description ?? "", addresses: localAddresses.map(\.description),
            apiAddress: apiAddress, profile: profile.rawValue, members: counts,
            leader: nil, term: nil, voters: nil, quorumReachable: nil,
            consensus: "no consensus yet: leader election arrives in a later release",
            uptimeSeconds: (MeshClock.now() - startedAt).seconds,
            leaving: leaveState != .member)
    }

    /// A member named by its name or a prefix of its hex id (alive members preferred when
    /// a name was reused by a new identity).
    func findMember(_ text: String) -> MemberSnapshot? {
        let all = membership.members
        let byName = all.filter { $0.name == text }
        if let best = byName.min(by: { $0.status.rawValue < $1.status.rawValue }) { return best }
        let lowered = text.lowercased()
        guard lowered.count >= 4 else { return nil }
        let byID = all.filter { $0.id.hex.hasPrefix(lowered) }
        return byID.count == 1 ? byID[0] : nil
    }

    /// The round trip between two members estimated from their network coordinates;
    /// `b` defaults to this agent.
    func estimatedRTT(a: String, b: String?) -> Result<RTTInfo, APIFailure> {
        guard let ma = findMember(a) else { return .failure(.unknownMember(a)) }
        let mb: MemberSnapshot
        if let b {
            guard let found = findMember(b) else { return .failure(.unknownMember(b)) }
            mb = found
        } else {
            guard let me = membership.member(identity.nodeID) else { return .failure(.unknownMember(localName)) }
            mb = me
        }
        func coordinate(_ m: MemberSnapshot) -> Coordinate? { m.id == identity.nodeID ? membership.coordinate : m.coordinate }
        guard let ca = coordinate(ma) else { return .failure(.noCoordinate(ma.name)) }
        guard let cb = coordinate(mb) else { return .failure(.noCoordinate(mb.name)) }
        return .success(RTTInfo(a: ma.name, b: mb.name, rttMs: Membership.estimatedRTT(ca, cb).seconds * 1000))
    }

    /// The Prometheus text of `/metrics`.
    func metricsText() -> String {
        AgentMetrics.render(members: membership.members.map(\.status), core: membership.metrics, runtime: counters,
                            datagramRejected: datagramOpener.rejected, streamRejected: streamOpener.rejected,
                            keys: keyring.keys.count, uptimeSeconds: (MeshClock.now() - startedAt).seconds)
    }
}
