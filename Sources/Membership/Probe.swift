import MeshCore

/// Failure detection: direct probes, indirect probes through k members, and the relay
/// side of indirect probes (SWIM §3, §3.1; Lifeguard §IV-B nacks).
extension Membership {
    /// Starts the probe of the next member in the round-robin order.
    mutating func startProbe(now: MeshTime) {
        let period = settings.probeInterval.scaled(by: health.multiplier)
        nextProbeAt = now + period
        guard pending == nil, let target = nextProbeTarget(), let record = records[target],
              let address = record.preferredAddress else { return }
        let seq = newSeq()
        pending = PendingProbe(seq: seq, target: target, address: address, sentAt: now,
                               directDeadline: now + settings.probeTimeout.scaled(by: health.multiplier),
                               end: now + period)
        metrics.probesSent += 1
        sendPing(seq: seq, target: target, to: address, buddy: record.status == .suspect ? record : nil)
    }

    /// The next member to probe: alive or suspect, in a per-round shuffled order.
    mutating func nextProbeTarget() -> NodeID? {
        if let id = urgentProbe {
            urgentProbe = nil
            if let r = records[id], r.status == .suspect { return id }
        }
        for _ in 0 ... probeOrder.count {
            if probeCursor >= probeOrder.count {
                probeOrder = sortedIDs()
                probeOrder.shuffle(using: &random)
                probeCursor = 0
                if probeOrder.isEmpty { return nil }
            }
            let id = probeOrder[probeCursor]
            probeCursor += 1
            if let r = records[id], r.status == .alive || r.status == .suspect { return id }
        }
        return nil
    }

    /// A ping, with piggybacked updates. Lifeguard's buddy system: a suspect is told of
    /// its suspicion first, so it can refute at once.
    mutating func sendPing(seq: UInt32, target: NodeID, to address: PeerAddress, buddy: MemberRecord? = nil) {
        var updates: [Update] = []
        var budget = settings.maxMessageBytes - MembershipMessage.pingFixedBytes
        if let b = buddy {
            let u = Update.suspect(id: target, incarnation: b.incarnation, from: local.id)
            updates.append(u); budget -= u.encodedSize
        }
        updates += piggyback(budget: budget)
        send(.ping(Ping(seq: seq, target: target, coordinate: vivaldi.coordinate, updates: updates)), to: address)
    }

    /// Updates that fit in `budget` bytes, counted as transmitted.
    mutating func piggyback(budget: Int) -> [Update] {
        let updates = queue.take(byteBudget: budget, limit: settings.retransmitLimit(members: liveCount))
        metrics.updatesSent += UInt64(updates.count)
        return updates
    }

    /// Direct-probe timeout (→ other addresses and indirect probes) and end of the probe
    /// period (→ suspicion).
    mutating func probeTimers(now: MeshTime) {
        guard var p = pending else { return }
        guard let record = records[p.target], record.status == .alive || record.status == .suspect else {
            pending = nil; return
        }
        if !p.indirectSent, now >= p.directDeadline {
            p.indirectSent = true
            // Ping again, on every address the member advertises: a lost datagram then
            // costs one more ping instead of a suspicion, and an agent with several
            // addresses is tried on the others before anyone suspects it. (memberlist
            // adds a TCP ping here; a second datagram gives the same second chance.)
            for address in record.alive.addresses {
                sendPing(seq: p.seq, target: p.target, to: address, buddy: record.status == .suspect ? record : nil)
            }
            let helpers = randomMembers(settings.indirectProbes, excluding: p.target) { $0.status == .alive }
            for helper in helpers {
                guard let address = records[helper]?.preferredAddress else { continue }
                metrics.indirectProbesSent += 1
                let request = PingRequest(seq: p.seq, target: p.target, targetAddresses: record.alive.addresses,
                                          wantsNack: true, updates: [])
                var withUpdates = request
                withUpdates.updates = piggyback(budget: settings.maxMessageBytes - MembershipMessage.pingRequestFixedBytes)
                send(.pingRequest(withUpdates), to: address)
            }
            p.expectedNacks = helpers.count
            pending = p
        }
        if now >= p.end {
            pending = nil
            metrics.probeFailures += 1
            // Lifeguard: missing nacks mean our own network is the problem.
            health.apply(p.expectedNacks > 0 ? max(0, p.expectedNacks - p.nacks) : 1)
            apply(.suspect(id: p.target, incarnation: record.incarnation, from: local.id), now: now)
        }
    }

    mutating func handlePing(_ ping: Ping, from sender: NodeID, address: PeerAddress, now: MeshTime) {
        guard ping.target == local.id else { metrics.pingsForAnotherNode += 1; return }
        if let c = ping.coordinate, records[sender] != nil { coordinates[sender] = c }
        let updates = piggyback(budget: settings.maxMessageBytes - MembershipMessage.ackFixedBytes)
        send(.ack(Ack(seq: ping.seq, coordinate: vivaldi.coordinate, updates: updates)), to: address)
    }

    mutating func handleAck(_ ack: Ack, from sender: NodeID, address: PeerAddress, now: MeshTime) {
        if let p = pending, p.seq == ack.seq {
            pending = nil
            health.apply(-1)
            guard sender == p.target, var record = records[p.target] else { return }
            // A direct answer: remember which address answered. Only an answer before the
            // direct deadline (to the first ping) is a clean round trip to measure.
            record.answeredAddress = address
            if !p.indirectSent {
                let rtt = now - p.sentAt
                let sample = max(1, rtt.nanoseconds)
                record.rttNanoseconds = record.rttNanoseconds > 0 ? (record.rttNanoseconds * 3 + sample) / 4 : sample
                if let c = ack.coordinate {
                    coordinates[sender] = c
                    vivaldi.observe(peer: sender, coordinate: c, rtt: rtt)
                }
            }
            records[p.target] = record
        } else if let relay = relays[ack.seq], relay.target == sender {
            relays.removeValue(forKey: ack.seq)
            let updates = piggyback(budget: settings.maxMessageBytes - MembershipMessage.ackFixedBytes)
            send(.ack(Ack(seq: relay.requesterSeq, coordinate: nil, updates: updates)), to: relay.requester)
        }
    }

    mutating func handleNack(_ nack: Nack) {
        if var p = pending, p.seq == nack.seq { p.nacks += 1; pending = p }
    }

    /// Probes `target` for a member that could not reach it (SWIM §3.1).
    mutating func handlePingRequest(_ request: PingRequest, from sender: NodeID, address: PeerAddress, now: MeshTime) {
        guard request.target != local.id, relays.count < Self.maxPendingRelays, !request.targetAddresses.isEmpty else { return }
        let seq = newSeq()
        relays[seq] = Relay(requester: address, requesterSeq: request.seq, target: request.target,
                            wantsNack: request.wantsNack,
                            nackAt: now + settings.probeTimeout.scaled(by: 0.8),
                            expireAt: now + settings.probeInterval)
        for target in request.targetAddresses { sendPing(seq: seq, target: request.target, to: target) }
    }

    /// Sends the nacks that are due and forgets relays past their probe period.
    mutating func expireRelays(now: MeshTime) {
        guard !relays.isEmpty else { return }
        for seq in relays.keys.sorted() {
            guard var r = relays[seq] else { continue }
            if r.wantsNack, !r.nackSent, now >= r.nackAt {
                r.nackSent = true
                relays[seq] = r
                metrics.nacksSent += 1
                send(.nack(Nack(seq: r.requesterSeq, updates: [])), to: r.requester)
            }
            if now >= r.expireAt { relays.removeValue(forKey: seq) }
        }
    }

    /// Up to `count` distinct random members (not this node, not `excluding`) that satisfy
    /// `eligible`.
    mutating func randomMembers(_ count: Int, excluding: NodeID?, _ eligible: (MemberRecord) -> Bool) -> [NodeID] {
        guard count > 0, !probeOrder.isEmpty || !records.isEmpty else { return [] }
        if probeOrder.count < records.count { probeOrder = sortedIDs(); probeOrder.shuffle(using: &random); probeCursor = 0 }
        var chosen: [NodeID] = []
        if probeOrder.count <= 4 * count + 16 {
            var candidates = probeOrder.filter { id in id != excluding && records[id].map(eligible) == true }
            candidates.shuffle(using: &random)
            return Array(candidates.prefix(count))
        }
        var attempts = 0
        while chosen.count < count, attempts < 8 * count {
            attempts += 1
            let id = probeOrder[Int(random.next() % UInt64(probeOrder.count))]
            if id != excluding, !chosen.contains(id), let r = records[id], eligible(r) { chosen.append(id) }
        }
        return chosen
    }
}
