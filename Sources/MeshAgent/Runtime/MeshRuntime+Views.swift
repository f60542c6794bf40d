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
            role: m.metadata.resources[RaftMetadata.role] ?? "member",
            tags: m.metadata.tags,
            apiAddress: m.metadata.apiAddress.isEmpty ? nil : m.metadata.apiAddress,
            rttMs: m.rtt.map { $0.seconds * 1000 },
            coordinate: coordinate.map { CoordinateInfo(vector: $0.vector, height: $0.height, error: $0.error, adjustment: $0.adjustment) },
            isSelf: isSelf)
    }

    /// This agent and the mesh: member counts by status, and the consensus layer's view
    /// (leader, term, voters and whether a quorum of them is reachable).
    func statusInfo() async -> StatusInfo {
        var counts = Dictionary(uniqueKeysWithValues: MemberStatus.allCases.map { ($0.description, 0) })
        for m in membership.members { counts[m.status.description, default: 0] += 1 }
        var leader: String?, term: UInt64?, voters: [String]?, quorum: Bool?
        var commit: UInt64?, applied: UInt64?, health: [VoterHealth]?, lag: UInt64?, age: Double?
        var summary = "consensus is not running"
        if let consensus = services?.consensus {
            let s = await consensus.status
            let view = consensusView()
            let voterIDs = s.voters.isEmpty ? view.voters : s.voters
            let leaderID = s.leader ?? view.leader
            let name = { (id: NodeID) in self.membership.member(id)?.name ?? id.description }
            leader = leaderID.map(name)
            term = s.voters.isEmpty ? nil : s.term.value
            voters = voterIDs.map(name)
            let reachable = voterIDs.filter { $0 == identity.nodeID || view.members[$0]?.alive == true }.count
            quorum = voterIDs.isEmpty ? nil : reachable >= voterIDs.count / 2 + 1
            summary = "\(s.role.rawValue), commit \(s.commitIndex), applied \(s.appliedIndex) (lag \(s.lagEntries)); \(reachable) of \(voterIDs.count) voters reachable"
            lag = s.lagEntries
            age = s.appliedAge.seconds
            commit = s.commitIndex.value
            applied = s.appliedIndex.value
            health = voterIDs.map { id in
                let status = id == identity.nodeID ? "alive" : membership.member(id)?.status.description ?? "unknown"
                return VoterHealth(name: name(id), id: id.hex, status: status, leader: id == leaderID)
            }
        }
        return StatusInfo(
            id: identity.nodeID.hex, name: localName,
            address: localAddresses.first?.description ?? "", addresses: localAddresses.map(\.description),
            apiAddress: apiAddress, profile: profile.rawValue, members: counts,
            leader: leader, term: term, voters: voters, quorumReachable: quorum,
            consensus: summary,
            uptimeSeconds: (MeshClock.now() - startedAt).seconds,
            leaving: leaveState != .member,
            commitIndex: commit, appliedIndex: applied, voterHealth: health, lagEntries: lag, appliedAgeSeconds: age)
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
        var counters = counters
        let direct = direct.counts      // the services' datagrams sent from their own threads
        counters.datagramsOut &+= direct.sent
        counters.bytesOutDatagram &+= direct.bytes
        counters.decodeRejected.add(servicesDecodeRejected)
        return AgentMetrics.render(members: membership.members.map(\.status), core: membership.metrics, runtime: counters,
                            socketErrors: socketErrors,
                            datagramRejected: datagramOpener.rejected, streamRejected: streamOpener.rejected,
                            keys: keyring.keys.count, uptimeSeconds: (MeshClock.now() - startedAt).seconds)
    }
}
