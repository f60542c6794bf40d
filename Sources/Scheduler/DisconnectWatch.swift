import MeshCore

/// Whether this node is cut off from the mesh's majority, and since when: the minority
/// side of a partition stops the instances of workloads that set `stop_after_disconnect`
/// (Nomad's `disconnect.stop_on_client_after`).
///
/// How a node knows: its own membership view. A node is disconnected while the voters it
/// sees alive (itself included, when it is one) are not a majority of the voter set. The
/// leader needs such a majority to commit anything, so a node that cannot see one is on
/// the side that cannot reschedule, or the whole mesh lost its quorum; either way the
/// majority side (if any) moves its instances after `reschedule_after`. Membership and
/// not Raft's contact with the leader, because most nodes are not voters or learners and
/// hear the leader only through the event log, and an idle leader sends nothing there:
/// the SWIM view is the one signal every node keeps fresh. Nothing is stopped on a guess:
/// an empty voter set (not learnt yet) counts as connected, and the watch arms only once
/// the node has seen a majority, so an agent that starts (or restarts, adopting its
/// instances) does not take the few seconds before it has heard from the others for a
/// disconnection; one that starts on the minority side keeps its instances until then.
public struct DisconnectWatch: Sendable, Equatable {
    /// When this node last lost sight of a majority of voters; nil while it sees one.
    public private(set) var since: MeshTime?
    /// Whether it has seen a majority since it started.
    public private(set) var armed = false

    public init() {}

    public enum Change: Sendable, Equatable {
        case disconnected
        case reconnected(after: Duration)
    }

    /// Whether `reachable` of `voters` voters make a majority (an empty set: yes).
    public static func seesMajority(reachable: Int, voters: Int) -> Bool {
        voters == 0 || reachable * 2 > voters
    }

    /// Feeds the node's current view; returns the change it makes, if any.
    @discardableResult
    public mutating func observe(reachableVoters: Int, voters: Int, now: MeshTime) -> Change? {
        let connected = Self.seesMajority(reachable: reachableVoters, voters: voters)
        if connected && voters > 0 { armed = true }
        guard armed else { return nil }
        switch (since, connected) {
        case (nil, false): since = now; return .disconnected
        case let (from?, true): since = nil; return .reconnected(after: now - from)
        default: return nil
        }
    }

    /// Whether instances of `spec` must be stopped now: it sets `stop_after_disconnect`,
    /// and this node has been disconnected for at least that long.
    public func mustStop(_ spec: WorkloadSpec, now: MeshTime) -> Bool {
        guard let since, let limit = spec.stopAfterDisconnect else { return false }
        return now - since >= limit
    }

    /// When the next of `specs` becomes due (to wake then); nil when none will while the
    /// node stays as it is.
    public func nextDue(_ specs: [WorkloadSpec], now: MeshTime) -> MeshTime? {
        guard let since else { return nil }
        return specs.compactMap { $0.stopAfterDisconnect.map { since + $0 } }.filter { $0 > now }.min()
    }
}
