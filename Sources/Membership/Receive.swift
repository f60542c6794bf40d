import MeshCore

extension Membership {
    /// Handles one message from `sender` (already verified by the wire layer) that arrived
    /// from `address`.
    public mutating func receive(_ message: MembershipMessage, from sender: NodeID, address: PeerAddress,
                                 now: MeshTime) -> [MembershipEffect] {
        guard !hasLeft, sender != local.id else { return [] }
        switch message {
        case let .ping(m):
            applyAll(m.updates, from: address, now: now)
            handlePing(m, from: sender, address: address, now: now)
        case let .ack(m):
            applyAll(m.updates, from: address, now: now)
            handleAck(m, from: sender, address: address, now: now)
        case let .nack(m):
            applyAll(m.updates, from: address, now: now)
            handleNack(m)
        case let .pingRequest(m):
            applyAll(m.updates, from: address, now: now)
            if leaveDeadline == nil { handlePingRequest(m, from: sender, address: address, now: now) }
        case let .gossip(m):
            applyAll(m.updates, from: address, now: now)
        case let .pushPull(m):
            metrics.pushPulls += m.isReply ? 0 : 1
            mergeState(m, from: sender, address: address, now: now)
        }
        return flush()
    }

    /// Applies `updates` relayed by the member at `address`. A suspicion or death it relays
    /// about a member this node already knows alive at a newer incarnation (a refutation
    /// the relay missed) is answered at once with that newer state, sent back in one
    /// datagram: a refutation's gossip ends after its retransmit limit, and a member that
    /// missed it would otherwise declare a live member dead when its suspicion expires.
    mutating func applyAll(_ updates: [Update], from address: PeerAddress, now: MeshTime) {
        var corrections: [Update] = []
        var budget = settings.maxMessageBytes - MembershipMessage.gossipFixedBytes
        for u in updates {
            if let newer = newerState(than: u), newer.encodedSize <= budget,
               corrections.count < MembershipLimits.maxUpdatesPerMessage {
                budget -= newer.encodedSize
                corrections.append(newer)
            }
            apply(u, now: now)
        }
        guard !corrections.isEmpty else { return }
        metrics.correctionsSent += 1
        send(.gossip(Gossip(updates: corrections)), to: address)
    }

    /// This node's newer `alive` state of the subject of a stale suspect or dead update.
    func newerState(than update: Update) -> Update? {
        switch update {
        case .alive: return nil
        case let .suspect(id, inc, _), let .dead(id, inc, _):
            if id == local.id {
                guard leaveDeadline == nil, !hasLeft, inc < incarnation else { return nil }
                return .alive(localAlive)
            }
            guard let record = records[id], record.status == .alive, inc < record.incarnation else { return nil }
            return .alive(record.incarnation == record.alive.incarnation ? record.alive : record.alive.with(incarnation: record.incarnation))
        }
    }
}
