import MeshCore

/// Applying membership updates: alive, suspect, dead and left, with incarnation rules
/// (SWIM §4.2) and refutation; suspicion expiry and reaping.
extension Membership {
    /// Applies one update learned from a peer (piggybacked, gossiped or pushed).
    mutating func apply(_ update: Update, now: MeshTime) {
        switch update {
        case let .alive(a): applyAlive(a, now: now)
        case let .suspect(id, inc, from): applySuspect(id: id, incarnation: inc, from: from, now: now)
        case let .dead(id, inc, from): applyDead(id: id, incarnation: inc, from: from, now: now)
        }
    }

    mutating func applyAlive(_ a: AliveUpdate, now: MeshTime) {
        if a.id == local.id {
            // Someone holds a newer or different picture of us (a previous life of this
            // node, or a forged one): take an incarnation above it and say we are alive.
            if leaveDeadline == nil, !hasLeft,
               a.incarnation > incarnation || (a.incarnation == incarnation && a != localAlive) {
                refute(above: a.incarnation, now: now)
            }
            return
        }
        if let known = records[a.id], a.incarnation <= known.incarnation { return }   // before any encoding work
        guard !a.addresses.isEmpty, a.metadata.encodedSize <= settings.maxMetadataBytes else {
            metrics.metadataRejected += 1
            return
        }
        guard var record = records[a.id] else {
            records[a.id] = MemberRecord(alive: a, status: .alive, statusSince: now)
            probeOrder.insert(a.id, at: Int(random.next() % UInt64(probeOrder.count + 1)))
            if probeCursor > 0 { probeCursor += 1 }
            out.append(.changed(MemberChange(kind: .joined, id: a.id, name: a.name, incarnation: a.incarnation, by: nil)))
            queue.enqueue(.alive(a))
            joining = nil
            return
        }
        guard a.incarnation > record.incarnation else { return }
        let previous = record.status
        let infoChanged = record.alive.addresses != a.addresses || record.alive.metadata != a.metadata || record.alive.name != a.name
        if let answered = record.answeredAddress, !a.addresses.contains(answered) { record.answeredAddress = nil }
        record.alive = a
        record.incarnation = a.incarnation
        if previous != .alive { record.status = .alive; record.statusSince = now }
        records[a.id] = record
        suspicions.removeValue(forKey: a.id)
        down.remove(a.id)
        queue.enqueue(.alive(a))
        let kind: MemberChange.Kind? = switch previous {
        case .suspect: .refuted
        case .dead, .left: .joined
        case .alive: infoChanged ? .updated : nil
        }
        if let kind { out.append(.changed(MemberChange(kind: kind, id: a.id, name: a.name, incarnation: a.incarnation, by: nil))) }
    }

    mutating func applySuspect(id: NodeID, incarnation inc: Incarnation, from: NodeID, now: MeshTime) {
        if id == local.id {
            guard leaveDeadline == nil, !hasLeft, inc >= incarnation else { return }
            health.apply(1)   // Lifeguard: being suspected hints that we are the slow one
            refute(above: inc, now: now)
            answerAccuser(from)
            return
        }
        guard var record = records[id], record.status == .alive || record.status == .suspect,
              inc >= record.incarnation else { return }
        if record.status == .suspect, var suspicion = suspicions[id] {
            if inc > record.incarnation { record.incarnation = inc; records[id] = record }
            if suspicion.confirm(from: from) {
                suspicions[id] = suspicion
                queue.enqueue(.suspect(id: id, incarnation: inc, from: from))
            }
            return
        }
        let n = liveCount
        let k = n - 2 < settings.suspicionConfirmations ? 0 : settings.suspicionConfirmations
        record.incarnation = inc
        record.status = .suspect
        record.statusSince = now
        records[id] = record
        suspicions[id] = Suspicion(start: now, from: from, minTimeout: settings.minSuspicionTimeout(members: n),
                                   maxTimeout: settings.maxSuspicionTimeout(members: n), expectedConfirmations: k)
        metrics.suspicionsRaised += 1
        // Lifeguard's timeout only shrinks with independent confirmations, and those come
        // from members whose round-robin happens to reach the suspect. A few members (on
        // average `suspicionProbers` of the mesh) probe it next instead: a dead member is
        // confirmed within a probe interval, a live one hears of its suspicion and refutes.
        if from != local.id, random.nextUnit() < Double(settings.suspicionProbers) / Double(max(n, 1)) {
            urgentProbe = id
        }
        queue.enqueue(.suspect(id: id, incarnation: inc, from: from))
        out.append(.changed(MemberChange(kind: .suspected, id: id, name: record.alive.name, incarnation: inc, by: from)))
    }

    mutating func applyDead(id: NodeID, incarnation inc: Incarnation, from: NodeID, now: MeshTime) {
        if id == local.id {
            guard leaveDeadline == nil, !hasLeft, inc >= incarnation else { return }
            refute(above: inc, now: now)
            answerAccuser(from)
            return
        }
        guard var record = records[id], record.status == .alive || record.status == .suspect,
              inc >= record.incarnation else { return }
        let left = from == id
        record.incarnation = inc
        record.status = left ? .left : .dead
        record.statusSince = now
        records[id] = record
        suspicions.removeValue(forKey: id)
        down.insert(id)
        nextReapAt = min(nextReapAt ?? now + settings.reapInterval, now + settings.reapInterval)
        if pending?.target == id { pending = nil }
        if from == local.id { metrics.deathsDeclared += 1 }
        queue.enqueue(.dead(id: id, incarnation: inc, from: from))
        out.append(.changed(MemberChange(kind: left ? .left : .dead, id: id, name: record.alive.name, incarnation: inc, by: from)))
    }

    /// Raises this node's incarnation above `accused` and disseminates that it is alive.
    mutating func refute(above accused: Incarnation, now: MeshTime) {
        incarnation = Incarnation(max(incarnation.value, accused.value) + 1)
        metrics.refutations += 1
        queue.enqueue(.alive(localAlive))
    }

    /// Sends the refutation straight to the member that accused this node, besides
    /// gossiping it: the accuser's own timer is the first to run out, and a refutation
    /// that reached everyone else but not the accuser still ends in a wrong `dead`.
    mutating func answerAccuser(_ accuser: NodeID) {
        guard accuser != local.id, let address = records[accuser]?.preferredAddress else { return }
        send(.gossip(Gossip(updates: [.alive(localAlive)])), to: address)
    }

    /// Suspects whose timeout ran out are declared dead by this node.
    mutating func expireSuspicions(now: MeshTime) {
        guard !suspicions.isEmpty else { return }
        for id in suspicions.keys.sorted() {
            guard var suspicion = suspicions[id], let record = records[id] else { continue }
            if now >= suspicion.deadline {
                applyDead(id: id, incarnation: record.incarnation, from: local.id, now: now)
            } else if !suspicion.lastCallSent, now >= suspicion.lastCall(lead: settings.suspicionLastCall) {
                // A last call: the suspicion rides a few more messages, so a member that
                // holds the suspect's refutation answers with it before this node's timer
                // runs out (see `applyAll`); a node whose own gossip of the suspicion ended
                // before the refutation existed would otherwise never hear of it.
                suspicion.lastCallSent = true
                suspicions[id] = suspicion
                queue.enqueue(.suspect(id: id, incarnation: record.incarnation, from: suspicion.accuser),
                              transmissions: settings.suspicionLastCallTransmissions)
            }
        }
    }

    /// Forgets dead and left members after `reapInterval`.
    mutating func reap(now: MeshTime) {
        guard let due = nextReapAt, now >= due else { return }
        nextReapAt = nil
        for id in down.sorted() {
            guard let record = records[id] else { down.remove(id); continue }
            guard now >= record.statusSince + settings.reapInterval else {
                nextReapAt = min(nextReapAt ?? record.statusSince + settings.reapInterval, record.statusSince + settings.reapInterval)
                continue
            }
            records.removeValue(forKey: id)
            coordinates.removeValue(forKey: id)
            vivaldi.forget(id)
            down.remove(id)
            out.append(.changed(MemberChange(kind: .reaped, id: id, name: record.alive.name,
                                             incarnation: record.incarnation, by: nil)))
        }
    }
}

extension Membership {
    /// Starts from a converged view: every member of `members` is known alive, as after a
    /// full-state exchange whose news has long since spread. Nothing is queued for gossip
    /// and no change is reported. For simulating a mesh already at steady state (meshsim's
    /// `bootstrap converged`, which skips the join storm); an agent always joins.
    @_spi(Simulation)
    public mutating func preload(_ members: [AliveUpdate], now: MeshTime) {
        for a in members where a.id != local.id && records[a.id] == nil && !a.addresses.isEmpty {
            records[a.id] = MemberRecord(alive: a, status: .alive, statusSince: now)
        }
        probeOrder = sortedIDs()
        probeOrder.shuffle(using: &random)
        probeCursor = 0
        joining = nil
        // At steady state the members' push-pulls are spread evenly over the period.
        nextPushPullAt = now + settings.pushPullPeriod(members: liveCount).scaled(by: random.nextUnit())
    }
}
