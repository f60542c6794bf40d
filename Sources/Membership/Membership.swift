import MeshCore

/// SWIM membership with Lifeguard's refinements, as a pure state machine.
///
/// The shell (the agent, or the simulator) feeds it messages and timer ticks, with the
/// current time, and executes the `MembershipEffect`s it returns. It owns no socket, clock,
/// thread or global random source: time comes in as `MeshTime`, randomness from the
/// injected `SeededRandom`, so one seed reproduces a simulated run exactly.
///
/// References: Das, Gupta, Motivala, "SWIM" (DSN 2002); Dadgar, Phillips, Currey,
/// "Lifeguard: Local Health Awareness for More Accurate Failure Detection" (2018);
/// HashiCorp memberlist.
public struct Membership: Sendable {
    public let settings: MembershipSettings
    public internal(set) var local: LocalMember
    public internal(set) var incarnation: Incarnation {
        // SWIM's refutation works only if this member's incarnation never goes back: a lower
        // one would be overridden by every suspicion already spread.
        didSet { precondition(incarnation >= oldValue, "membership: the local incarnation went back from \(oldValue) to \(incarnation)") }
    }
    public internal(set) var metrics = MembershipMetrics()

    var random: SeededRandom
    var records: [NodeID: MemberRecord] = [:]
    /// Probe order: every known member once per round, shuffled each round (SWIM §4.3).
    var probeOrder: [NodeID] = []
    var probeCursor = 0
    /// A suspect to probe next, out of the round-robin order (see `applySuspect`).
    var urgentProbe: NodeID?
    var pending: PendingProbe?
    var relays: [UInt32: Relay] = [:]
    var nextSeq: UInt32 = 1
    var queue: Dissemination
    var health: LocalHealth
    var vivaldi = Vivaldi()
    /// The last Vivaldi coordinate each member reported (in its pings, acks, or a push-pull
    /// from it), for `estimatedRTT` between any two members. Dropped when the member is reaped.
    var coordinates: [NodeID: Coordinate] = [:]
    /// Lifeguard suspicion timers of the members now suspect.
    var suspicions: [NodeID: Suspicion] = [:]
    /// Dead or left members, kept until reaped.
    var down: Set<NodeID> = []
    /// The earliest time a down member may be reaped (early is harmless: reap re-checks).
    var nextReapAt: MeshTime?
    var nextProbeAt: MeshTime
    var nextGossipAt: MeshTime
    var nextPushPullAt: MeshTime
    var nextReconnectAt: MeshTime
    var joining: JoinState?
    var leaveDeadline: MeshTime?
    public internal(set) var hasLeft = false
    var localSince: MeshTime
    var out: [MembershipEffect] = []

    struct PendingProbe: Sendable {
        var seq: UInt32
        var target: NodeID
        var address: PeerAddress
        var sentAt: MeshTime
        var directDeadline: MeshTime
        var end: MeshTime
        var indirectSent = false
        var expectedNacks = 0
        var nacks = 0
    }

    struct Relay: Sendable {
        var requester: PeerAddress
        var requesterSeq: UInt32
        var target: NodeID
        var wantsNack: Bool
        var nackAt: MeshTime
        var expireAt: MeshTime
        var nackSent = false
    }

    struct JoinState: Sendable {
        var seeds: [PeerAddress]
        var attempt: Int
        var nextAt: MeshTime
    }

    /// Pending ping requests this node relays at most; more are refused (dropped).
    public static let maxPendingRelays = 1024

    public init(local: LocalMember, settings: MembershipSettings, random: SeededRandom, now: MeshTime,
                incarnation: Incarnation = .zero) {
        self.local = local
        self.settings = settings
        self.random = random
        self.incarnation = incarnation
        queue = Dissemination(capacity: settings.maxQueuedUpdates)
        health = LocalHealth(maxScore: settings.maxHealthScore)
        localSince = now
        // Spread the first probe over one interval so nodes started together do not probe in step.
        var r = random
        let offset = Int64(r.nextUnit() * Double(settings.probeInterval.nanoseconds))
        self.random = r
        nextProbeAt = now + .nanoseconds(offset)
        nextGossipAt = now + settings.gossipInterval
        nextPushPullAt = now + settings.pushPullInterval
        nextReconnectAt = now + settings.reconnectInterval
    }

    // MARK: - Queries

    /// Members alive or suspect, this node included: the N of SWIM's formulas.
    public var liveCount: Int { records.count - down.count + 1 }

    /// Every member this node knows, itself included, ordered by name then id.
    public var members: [MemberSnapshot] {
        ([localSnapshot] + records.values.map { $0.snapshot(coordinate: coordinates[$0.alive.id]) }).sorted { ($0.name, $0.id) < ($1.name, $1.id) }
    }

    public func member(_ id: NodeID) -> MemberSnapshot? {
        id == local.id ? localSnapshot : records[id]?.snapshot(coordinate: coordinates[id])
    }

    /// This node's Vivaldi coordinate.
    public var coordinate: Coordinate { vivaldi.coordinate }

    /// The round trip two coordinates predict.
    public static func estimatedRTT(_ a: Coordinate, _ b: Coordinate) -> Duration { Vivaldi.distance(a, b) }

    /// The local health score (Lifeguard): 0 is healthy.
    public var healthScore: Int { health.score }

    var localSnapshot: MemberSnapshot {
        MemberSnapshot(id: local.id, name: local.name, status: leaveDeadline == nil && !hasLeft ? .alive : .left,
                       incarnation: incarnation, addresses: local.addresses, answeredAddress: nil,
                       metadata: local.metadata, rtt: nil, coordinate: vivaldi.coordinate,
                       statusSince: localSince, isLocal: true)
    }

    var localAlive: AliveUpdate {
        AliveUpdate(id: local.id, incarnation: incarnation, name: local.name, addresses: local.addresses, metadata: local.metadata)
    }

    /// When the shell must call `tick` next.
    public var nextWakeup: MeshTime {
        if hasLeft { return MeshTime(nanoseconds: .max) }
        var t = nextPushPullAt
        if leaveDeadline == nil { t = min(t, nextProbeAt) }
        if !queue.isEmpty { t = min(t, nextGossipAt) }
        if let p = pending { t = min(t, p.indirectSent ? p.end : p.directDeadline) }
        for s in suspicions.values {
            t = min(t, s.lastCallSent ? s.deadline : s.lastCall(lead: settings.suspicionLastCall))
        }
        for r in relays.values { t = min(t, r.nackSent || !r.wantsNack ? r.expireAt : r.nackAt) }
        if let r = nextReapAt { t = min(t, r) }
        if !down.isEmpty, leaveDeadline == nil { t = min(t, nextReconnectAt) }
        if let j = joining { t = min(t, j.nextAt) }
        if let l = leaveDeadline { t = min(t, l) }
        return t
    }

    // MARK: - Commands

    /// Joins the mesh through `seeds`: a push-pull exchange with each; retried with
    /// backoff until some member is known, so nodes may start in any order.
    public mutating func join(_ seeds: [PeerAddress], now: MeshTime) -> [MembershipEffect] {
        let seeds = Array(seeds.filter { !local.addresses.contains($0) }.prefix(64))
        guard !seeds.isEmpty, !hasLeft else { return [] }
        joining = JoinState(seeds: seeds, attempt: 0, nextAt: now + settings.joinRetryBase)
        sendJoin(to: seeds)
        queue.enqueue(.alive(localAlive))
        return flush()
    }

    /// Leaves gracefully: gossips this node's departure (others mark it `left`, not
    /// `dead`) for `leavePropagation`, then emits `.leftMesh`.
    public mutating func leave(now: MeshTime) -> [MembershipEffect] {
        guard leaveDeadline == nil, !hasLeft else { return [] }
        leaveDeadline = now + settings.leavePropagation
        pending = nil
        joining = nil
        localSince = now
        queue.enqueue(.dead(id: local.id, incarnation: incarnation, from: local.id))
        if liveCount <= 1 {
            hasLeft = true
            out.append(.leftMesh)
        } else {
            gossipRound(now: now)
        }
        return flush()
    }

    /// Changes this node's metadata; disseminated like a state change. Refused once a
    /// leave has begun: a new incarnation would make peers see the leaving node alive
    /// again, then dead instead of left.
    public mutating func updateMetadata(_ metadata: MemberMetadata, now: MeshTime) -> [MembershipEffect] {
        guard metadata != local.metadata, !hasLeft, leaveDeadline == nil else { return [] }
        local.metadata = metadata
        incarnation = incarnation.next
        queue.enqueue(.alive(localAlive))
        return flush()
    }

    // MARK: - Timers

    /// Runs every timer that is due at `now`.
    public mutating func tick(now: MeshTime) -> [MembershipEffect] {
        guard !hasLeft else { return [] }
        if let l = leaveDeadline, now >= l {
            hasLeft = true
            out.append(.leftMesh)
            return flush()
        }
        probeTimers(now: now)
        if leaveDeadline == nil, now >= nextProbeAt { startProbe(now: now) }
        if now >= nextGossipAt {
            gossipRound(now: now)
            nextGossipAt = now + settings.gossipInterval
        }
        expireSuspicions(now: now)
        expireRelays(now: now)
        if now >= nextPushPullAt {
            if leaveDeadline == nil { pushPullRound(now: now) }
            nextPushPullAt = now + settings.pushPullPeriod(members: liveCount).scaled(by: 0.75 + 0.5 * random.nextUnit())
        }
        if now >= nextReconnectAt {
            if leaveDeadline == nil { reconnectRound(now: now) }
            nextReconnectAt = now + settings.reconnectInterval.scaled(by: 0.75 + 0.5 * random.nextUnit())
        }
        if let j = joining, now >= j.nextAt { retryJoin(now: now) }
        reap(now: now)
        return flush()
    }

    mutating func flush() -> [MembershipEffect] {
        defer { out.removeAll(keepingCapacity: true) }
        return out
    }

    mutating func newSeq() -> UInt32 {
        defer { nextSeq &+= 1 }
        return nextSeq
    }

    mutating func send(_ message: MembershipMessage, to address: PeerAddress) {
        metrics.messagesSent += 1
        out.append(.send(message, to: address))
    }
}
