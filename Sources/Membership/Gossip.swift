import MeshCore

/// Dissemination rounds, push-pull full-state sync, and joining (SWIM §4.1; memberlist's
/// gossip and push-pull).
extension Membership {
    /// Sends queued updates to `gossipFanout` random members, including recently dead ones
    /// (so a member wrongly declared dead hears it and refutes).
    mutating func gossipRound(now: MeshTime) {
        guard !queue.isEmpty else { return }
        let toDead = settings.gossipToDeadInterval
        let targets = randomMembers(settings.gossipFanout, excluding: nil) { r in
            r.status == .alive || r.status == .suspect || (r.status == .dead && now - r.statusSince < toDead)
        }
        for id in targets {
            guard let address = records[id]?.preferredAddress else { continue }
            let updates = piggyback(budget: settings.maxMessageBytes - MembershipMessage.gossipFixedBytes)
            if updates.isEmpty { break }
            send(.gossip(Gossip(updates: updates)), to: address)
        }
    }

    /// Every member's state, this node first, then by id.
    /// Every member's id in ascending order: a deterministic order, where the dictionary's
    /// changes from process to process. Sorted on each use: a cached copy cost 32 bytes
    /// per member per node (3 GB of a 10,000-node simulation) to save 2.5 % of its time.
    func sortedIDs() -> [NodeID] { records.keys.sorted() }

    mutating func fullState() -> [MemberState] {
        var states = [MemberState(alive: localAlive, status: .alive, coordinate: vivaldi.coordinate)]
        for id in sortedIDs() {
            let r = records[id]!
            let alive = r.incarnation == r.alive.incarnation ? r.alive : r.alive.with(incarnation: r.incarnation)
            // Others' coordinates stay out (as in Serf, they travel with probes): they
            // were two thirds of a full state's bytes.
            states.append(MemberState(alive: alive, status: r.status, coordinate: nil))
        }
        return Array(states.prefix(MembershipLimits.maxPushPullStates))
    }

    /// A full-state exchange with one random live member, which repairs whatever gossip
    /// missed (and merges the two sides of a healed partition).
    mutating func pushPullRound(now: MeshTime) {
        guard let id = randomMembers(1, excluding: nil, { $0.status == .alive }).first,
              let address = records[id]?.preferredAddress else { return }
        metrics.pushPulls += 1
        out.append(.exchange(PushPull(isJoin: false, isReply: false, states: fullState()), to: address))
    }

    /// A push-pull with one random dead member: if it is back (a healed partition, a
    /// wrongly declared death), the two full states meet and each side refutes or revives.
    mutating func reconnectRound(now: MeshTime) {
        guard !down.isEmpty else { return }
        let dead = down.sorted().filter { records[$0]?.status == .dead }
        guard !dead.isEmpty, let address = records[dead[Int(random.next() % UInt64(dead.count))]]?.preferredAddress else { return }
        metrics.pushPulls += 1
        out.append(.exchange(PushPull(isJoin: false, isReply: false, states: fullState()), to: address))
    }

    mutating func sendJoin(to seeds: [PeerAddress]) {
        let states = fullState()
        for seed in seeds {
            metrics.pushPulls += 1
            out.append(.exchange(PushPull(isJoin: true, isReply: false, states: states), to: seed))
        }
    }

    /// Retries the join with exponential backoff while no member is known.
    mutating func retryJoin(now: MeshTime) {
        guard var j = joining else { return }
        if records.values.contains(where: { $0.status == .alive }) { joining = nil; return }
        j.attempt += 1
        let backoff = settings.joinRetryBase.scaled(by: Double(1 << min(j.attempt, 16)))
        j.nextAt = now + min(backoff, settings.joinRetryMax)
        joining = j
        sendJoin(to: j.seeds)
    }

    /// Merges a peer's full state (memberlist `mergeState`): alive is taken as alive, left
    /// as left, and dead or suspect only as a suspicion of ours, so a push-pull alone never
    /// kills a member.
    mutating func mergeState(_ push: PushPull, from sender: NodeID, address: PeerAddress, now: MeshTime) {
        for state in push.states {
            let a = state.alive
            switch state.status {
            case .alive: apply(.alive(a), now: now)
            case .left: apply(.dead(id: a.id, incarnation: a.incarnation, from: a.id), now: now)
            case .dead, .suspect:
                if records[a.id] == nil && a.id != local.id { continue }
                apply(.suspect(id: a.id, incarnation: a.incarnation, from: sender), now: now)
            }
            if let c = state.coordinate, a.id != local.id, records[a.id] != nil { coordinates[a.id] = c }
        }
        if !push.isReply {
            out.append(.reply(PushPull(isJoin: push.isJoin, isReply: true, states: fullState()), to: address))
        }
    }
}
