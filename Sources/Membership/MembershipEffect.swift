import MeshCore

/// What the membership state machine asks its shell to do. The agent turns these into
/// datagrams and TCP exchanges; the simulator into virtual-network deliveries.
public enum MembershipEffect: Sendable, Equatable {
    /// Send one datagram (sealed and signed by the shell).
    case send(MembershipMessage, to: PeerAddress)
    /// Open a stream (TCP) to `to`, send this push-pull, and feed the reply back with
    /// `receive(_:from:address:now:)`. A failed exchange needs no report.
    case exchange(PushPull, to: PeerAddress)
    /// Answer the push-pull that arrived on a stream with this reply.
    case reply(PushPull, to: PeerAddress)
    /// A member changed state: for the event log, metrics and the operator.
    case changed(MemberChange)
    /// This node finished leaving: the shell may stop now.
    case leftMesh
}

/// One observed change of a member's state.
public struct MemberChange: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case joined, updated, suspected, refuted, dead, left, reaped
    }
    public var kind: Kind
    public var id: NodeID
    public var name: String
    public var incarnation: Incarnation
    /// Who caused a suspicion or death, when known.
    public var by: NodeID?
}
