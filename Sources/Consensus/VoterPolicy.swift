import MeshCore

/// How the leader keeps its voter set healthy by itself: the next single-server change to
/// make, given what membership says of each member. Pure: the agent calls `nextChange`
/// on the leader after each membership change and every few seconds, and proposes the
/// configuration it returns.
///
/// Rules, one change at a time, in this order:
/// 0. a voter that lost its storage and refills (`refilling`, the leader's
///    `abstainingPeers`) is removed at once: it cannot vote until it is a learner again;
/// 1. a voter dead (or left) for at least `deadGrace` is removed;
/// 2. a learner that is dead is dropped;
/// 3. a learner that caught up (within `catchUpLag` of the leader's last index) is
///    promoted while voters are fewer than wanted;
/// 4. a healthy member joins as a learner while voters are fewer than wanted;
/// 5. voters beyond `desiredVoters` are removed (unhealthy ones first).
/// The wanted number is `desiredVoters` (3 by default, 5 configurable), lowered to the odd
/// number of eligible members when fewer exist. Members tagged never-voter are never
/// chosen. The leader never removes itself (it transfers leadership first).
public struct VoterPolicy: Sendable, Equatable {
    public var desiredVoters: Int
    public var deadGrace: Duration
    public var catchUpLag: UInt64

    public init(desiredVoters: Int = 3, deadGrace: Duration = .seconds(30), catchUpLag: UInt64 = 16) {
        self.desiredVoters = desiredVoters; self.deadGrace = deadGrace; self.catchUpLag = catchUpLag
    }

    /// What membership says of a member.
    public struct Member: Sendable, Equatable {
        public var alive: Bool
        /// When it was last seen alive (for dead or left members).
        public var downSince: MeshTime?
        /// Tagged `voter=never` (a weak Pi).
        public var neverVoter: Bool
        public init(alive: Bool, downSince: MeshTime? = nil, neverVoter: Bool = false) {
            self.alive = alive; self.downSince = downSince; self.neverVoter = neverVoter
        }
    }

    /// The configuration to propose next, or nil when the voter set is as wanted.
    public func nextChange(leader: NodeID, configuration c: RaftConfiguration, members: [NodeID: Member],
                           matchIndex: [NodeID: LogIndex], lastIndex: LogIndex, now: MeshTime,
                           refilling: Set<NodeID> = []) -> RaftConfiguration? {
        func isDeadLongEnough(_ id: NodeID) -> Bool {
            // Unknown to membership is not dead: a leader that just started may not have
            // heard of every member yet. Reaped members stay voters until re-learned dead.
            guard let m = members[id], !m.alive, let since = m.downSince else { return false }
            return now - since >= deadGrace
        }
        func eligible(_ id: NodeID) -> Bool { members[id].map { $0.alive && !$0.neverVoter } ?? false }

        let eligibleCount = members.keys.filter(eligible).count
        var wanted = max(1, min(desiredVoters, eligibleCount))
        if wanted % 2 == 0 { wanted -= 1 }

        if let broken = c.voters.first(where: { $0 != leader && refilling.contains($0) }) {
            return RaftConfiguration(voters: c.voters.filter { $0 != broken }, learners: c.learners + [broken])
        }
        if let dead = c.voters.first(where: { $0 != leader && isDeadLongEnough($0) }) {
            return RaftConfiguration(voters: c.voters.filter { $0 != dead }, learners: c.learners)
        }
        if let gone = c.learners.first(where: { !eligible($0) }) {
            return RaftConfiguration(voters: c.voters, learners: c.learners.filter { $0 != gone })
        }
        if c.voters.count < wanted {
            let caughtUp = c.learners.filter { eligible($0) && !refilling.contains($0) && matchIndex[$0, default: .zero].value + catchUpLag >= lastIndex.value }
            if let promote = caughtUp.first {
                return RaftConfiguration(voters: c.voters + [promote], learners: c.learners.filter { $0 != promote })
            }
            if c.learners.isEmpty,
               let candidate = members.keys.sorted().first(where: { eligible($0) && !c.voters.contains($0) }) {
                return RaftConfiguration(voters: c.voters, learners: [candidate])
            }
            return nil
        }
        // Only a voter set larger than configured shrinks (never a healthy one to reach an
        // odd count after failures: that would trade fault tolerance for nothing).
        if c.voters.count > desiredVoters,
           let extra = c.voters.sorted().last(where: { $0 != leader && !eligible($0) }) ?? c.voters.sorted().last(where: { $0 != leader }) {
            return RaftConfiguration(voters: c.voters.filter { $0 != extra }, learners: c.learners)
        }
        return nil
    }
}
