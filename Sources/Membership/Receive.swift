import MeshCore

extension Membership {
    /// Handles one message from `sender` (already verified by the wire layer) that arrived
    /// from `address`.
    public mutating func receive(_ message: MembershipMessage, from sender: NodeID, address: PeerAddress,
                                 now: MeshTime) -> [MembershipEffect] {
        guard !hasLeft, sender != local.id else { return [] }
        switch message {
        case let .ping(m):
            applyAll(m.updates, now: now)
            handlePing(m, from: sender, address: address, now: now)
        case let .ack(m):
            applyAll(m.updates, now: now)
            handleAck(m, from: sender, address: address, now: now)
        case let .nack(m):
            applyAll(m.updates, now: now)
            handleNack(m)
        case let .pingRequest(m):
            applyAll(m.updates, now: now)
            if leaveDeadline == nil { handlePingRequest(m, from: sender, address: address, now: now) }
        case let .gossip(m):
            applyAll(m.updates, now: now)
        case let .pushPull(m):
            metrics.pushPulls += m.isReply ? 0 : 1
            mergeState(m, from: sender, address: address, now: now)
        }
        return flush()
    }

    mutating func applyAll(_ updates: [Update], now: MeshTime) {
        for u in updates { apply(u, now: now) }
    }
}
