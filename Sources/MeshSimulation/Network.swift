import MeshCore

/// How the virtual network behaves. Every field has a unit in its name or its doc.
///
/// Latency model: each node has a fixed position in a unit square (drawn from the run's
/// seed); the one-way delay of a link is `baseLatency + spreadLatency × distance / √2`, so
/// links differ but are stable (what Vivaldi coordinates can learn), plus a per-datagram
/// jitter uniform in `[0, jitter]` (which also reorders datagrams). The true round trip of a
/// link, used to judge Vivaldi estimates, is `2 × oneWay + jitter` (the mean).
public struct NetworkParameters: Sendable, Equatable {
    /// One-way delay of the shortest link.
    public var baseLatency: Duration
    /// Extra one-way delay of the longest link (opposite corners of the square).
    public var spreadLatency: Duration
    /// Per-datagram extra delay, uniform in `[0, jitter]`.
    public var jitter: Duration
    /// Probability that a datagram is lost (uniform, independent).
    public var lossRate: Double
    /// Probability that a delivered datagram arrives twice (the copy has its own jitter).
    public var duplicateRate: Double
    /// Egress cap of every node in bytes per second; 0 means unlimited. Datagrams beyond the
    /// cap wait in a FIFO egress queue (serialisation delay).
    public var bandwidthBytesPerSecond: Int
    /// A datagram that would wait longer than this in the egress queue is dropped (tail drop,
    /// like a full socket send buffer). Stream (TCP) transfers wait without limit.
    public var maxEgressQueueDelay: Duration
    /// A paused node's kernel keeps at most this many bytes of datagrams for it (Linux's
    /// default `rmem_default`); datagrams beyond are dropped. Streams are always kept.
    public var pausedReceiveBufferBytes: Int
    /// One-way trips before a stream (TCP) request reaches its peer: handshake + data.
    public var streamRequestTrips: Int
    /// Share of the links a partition cuts on which the sender's kernel refuses every send
    /// at once (a blackhole, `unreachable` or `prohibit` route, a firewall reject on the
    /// sender), instead of the message vanishing on the way (a drop further along). Which
    /// links refuse is fixed per link (a route is a property of the link, not of a packet)
    /// and drawn from a hash, not from the run's generator, so a seed replays the same run.
    /// Either way the message is lost; a refusal is counted as the sender's send error and
    /// the sender carries on, as the agent does (`meshd_send_errors_total`): one refused
    /// send loses that message only.
    public var refusedSendShare: Double

    public init(baseLatency: Duration = .microseconds(200), spreadLatency: Duration = .milliseconds(1),
                jitter: Duration = .microseconds(100), lossRate: Double = 0, duplicateRate: Double = 0,
                bandwidthBytesPerSecond: Int = 0, maxEgressQueueDelay: Duration = .milliseconds(500),
                pausedReceiveBufferBytes: Int = 212_992, streamRequestTrips: Int = 3, refusedSendShare: Double = 0) {
        self.baseLatency = baseLatency; self.spreadLatency = spreadLatency; self.jitter = jitter
        self.lossRate = lossRate; self.duplicateRate = duplicateRate
        self.bandwidthBytesPerSecond = bandwidthBytesPerSecond; self.maxEgressQueueDelay = maxEgressQueueDelay
        self.pausedReceiveBufferBytes = pausedReceiveBufferBytes; self.streamRequestTrips = streamRequestTrips
        self.refusedSendShare = refusedSendShare
    }

    /// A switched LAN: 0.2–1.2 ms one way.
    public static let lan = NetworkParameters()
    /// Sites across a continent: 5–105 ms one way, 5 ms jitter.
    public static let wan = NetworkParameters(baseLatency: .milliseconds(5), spreadLatency: .milliseconds(100),
                                              jitter: .milliseconds(5))
    /// One machine: 20–70 µs one way.
    public static let local = NetworkParameters(baseLatency: .microseconds(20), spreadLatency: .microseconds(50),
                                                jitter: .microseconds(10))
}

/// Why the network did not deliver a message.
public enum DropReason: Int, Sendable, CaseIterable, CustomStringConvertible {
    case loss, partition, egressQueueFull, receiverDown, pausedBufferFull, noSuchAddress
    /// Cut by a partition, and refused at once by the sender's kernel (`refusedSendShare`).
    case sendRefused

    public var description: String {
        switch self {
        case .loss: "loss"
        case .partition: "partition"
        case .egressQueueFull: "egress_queue_full"
        case .receiverDown: "receiver_down"
        case .pausedBufferFull: "paused_buffer_full"
        case .noSuchAddress: "no_such_address"
        case .sendRefused: "send_refused"
        }
    }
}

/// Counters of everything the network carried or refused.
public struct NetworkCounters: Sendable, Equatable {
    public var datagramsSent = 0
    public var datagramBytesSent = 0
    public var streamsSent = 0
    public var streamBytesSent = 0
    public var duplicated = 0
    public var dropped = [Int](repeating: 0, count: DropReason.allCases.count)

    public func dropped(_ reason: DropReason) -> Int { dropped[reason.rawValue] }
}

/// Limits of the network model.
public enum NetworkLimits {
    /// Partition groups: nodes belong to one of this many groups; reachability is a
    /// group-by-group matrix, so an asymmetric partition is one blocked direction.
    public static let maxGroups = 16
}

/// Where a routed datagram or stream ends up: up to two arrival times (a duplicate), or a drop.
struct Route {
    var arrival: Int64
    var duplicateArrival: Int64
    var dropped: DropReason?

    static func drop(_ reason: DropReason) -> Route { Route(arrival: -1, duplicateArrival: -1, dropped: reason) }
}

/// The in-memory network between simulated nodes: latency, loss, duplication, partitions and
/// per-node egress caps. Pure arithmetic on its own seeded generator; it never sees messages,
/// only sizes, so its behaviour can be tested on its own.
public struct Network: Sendable {
    public var parameters: NetworkParameters
    public private(set) var counters = NetworkCounters()
    private var random: SeededRandom
    private var positionX: [Double]
    private var positionY: [Double]
    private var egressFreeAt: [Int64]
    /// Sends each node's kernel refused (what its agent counts in `meshd_send_errors_total`).
    public private(set) var refusedSends: [Int]
    /// Partition group of each node (0 = everyone at the start).
    private var group: [UInt8]
    /// `blocked[from * maxGroups + to]`: group `from` cannot reach group `to`.
    private var blocked: [Bool]
    private var anyBlocked = false

    public init(nodes: Int, parameters: NetworkParameters, random: SeededRandom) {
        self.parameters = parameters
        self.random = random
        positionX = []; positionY = []
        positionX.reserveCapacity(nodes); positionY.reserveCapacity(nodes)
        for _ in 0 ..< nodes {
            positionX.append(self.random.nextUnit()); positionY.append(self.random.nextUnit())
        }
        egressFreeAt = [Int64](repeating: 0, count: nodes)
        refusedSends = [Int](repeating: 0, count: nodes)
        group = [UInt8](repeating: 0, count: nodes)
        blocked = [Bool](repeating: false, count: NetworkLimits.maxGroups * NetworkLimits.maxGroups)
    }

    public var nodeCount: Int { positionX.count }

    // MARK: latency

    /// The stable one-way delay of the link `a → b` in nanoseconds (no jitter).
    @inline(__always)
    func oneWayNanoseconds(_ a: Int, _ b: Int) -> Int64 {
        let dx = positionX[a] - positionX[b], dy = positionY[a] - positionY[b]
        let distance = (dx * dx + dy * dy).squareRoot() * 0.707_106_781_186_547_6
        return parameters.baseLatency.nanoseconds + Int64(Double(parameters.spreadLatency.nanoseconds) * distance)
    }

    /// The true mean round trip between two nodes, as the latency model defines it.
    public func trueRoundTrip(_ a: Int, _ b: Int) -> Duration {
        .nanoseconds(oneWayNanoseconds(a, b) + oneWayNanoseconds(b, a) + parameters.jitter.nanoseconds)
    }

    @inline(__always)
    private mutating func jitterNanoseconds() -> Int64 {
        let j = parameters.jitter.nanoseconds
        return j > 0 ? Int64(random.nextUnit() * Double(j)) : 0
    }

    // MARK: partitions

    /// Can `from` send to `to` right now?
    @inline(__always)
    public func reachable(_ from: Int, _ to: Int) -> Bool {
        !anyBlocked || !blocked[Int(group[from]) * NetworkLimits.maxGroups + Int(group[to])]
    }

    /// Puts nodes into partition groups (0 ..< `NetworkLimits.maxGroups`) and cuts every
    /// link between different groups in both directions.
    public mutating func partition(groups: [Int]) {
        precondition(groups.count == nodeCount, "one group per node")
        for (i, g) in groups.enumerated() {
            precondition(g >= 0 && g < NetworkLimits.maxGroups, "partition group \(g) out of range")
            group[i] = UInt8(g)
        }
        for a in 0 ..< NetworkLimits.maxGroups {
            for b in 0 ..< NetworkLimits.maxGroups { blocked[a * NetworkLimits.maxGroups + b] = a != b }
        }
        anyBlocked = true
    }

    /// Cuts only the direction `fromGroup → toGroup` (an asymmetric partition); the other
    /// direction keeps working. Groups must have been assigned with `assign(groups:)`.
    public mutating func block(fromGroup: Int, toGroup: Int) {
        blocked[fromGroup * NetworkLimits.maxGroups + toGroup] = true
        anyBlocked = true
    }

    /// Assigns groups without cutting anything (use with `block(fromGroup:toGroup:)`).
    public mutating func assign(groups: [Int]) {
        precondition(groups.count == nodeCount, "one group per node")
        for (i, g) in groups.enumerated() {
            precondition(g >= 0 && g < NetworkLimits.maxGroups, "partition group \(g) out of range")
            group[i] = UInt8(g)
        }
    }

    /// Restores full connectivity.
    public mutating func heal() {
        for i in blocked.indices { blocked[i] = false }
        anyBlocked = false
    }

    // MARK: routing

    /// Routes one datagram of `bytes` bytes sent at `now`: loss, partition, egress cap,
    /// latency with jitter, duplication. Counts it.
    mutating func routeDatagram(from: Int, to: Int, bytes: Int, now: Int64) -> Route {
        counters.datagramsSent += 1
        counters.datagramBytesSent += bytes
        guard reachable(from, to) else { return cut(from, to) }
        let departure: Int64
        if parameters.bandwidthBytesPerSecond > 0 {
            let start = max(now, egressFreeAt[from])
            if start - now > parameters.maxEgressQueueDelay.nanoseconds { return noteDrop(.egressQueueFull) }
            departure = start + Int64(bytes) * 1_000_000_000 / Int64(parameters.bandwidthBytesPerSecond)
            egressFreeAt[from] = departure
        } else {
            departure = now
        }
        if parameters.lossRate > 0, random.nextUnit() < parameters.lossRate { return noteDrop(.loss) }
        let oneWay = oneWayNanoseconds(from, to)
        var route = Route(arrival: departure + oneWay + jitterNanoseconds(), duplicateArrival: -1, dropped: nil)
        if parameters.duplicateRate > 0, random.nextUnit() < parameters.duplicateRate {
            route.duplicateArrival = departure + oneWay + jitterNanoseconds()
            counters.duplicated += 1
        }
        return route
    }

    /// Routes one stream transfer (a TCP request or reply): never lost or duplicated, but cut
    /// by partitions, and slowed by the egress cap without limit. A request needs
    /// `streamRequestTrips` one-way trips (handshake), a reply one.
    mutating func routeStream(from: Int, to: Int, bytes: Int, now: Int64, isRequest: Bool) -> Route {
        counters.streamsSent += 1
        counters.streamBytesSent += bytes
        guard reachable(from, to) else { return cut(from, to) }
        var departure = now
        if parameters.bandwidthBytesPerSecond > 0 {
            departure = max(now, egressFreeAt[from]) + Int64(bytes) * 1_000_000_000 / Int64(parameters.bandwidthBytesPerSecond)
            egressFreeAt[from] = departure
        }
        let trips = isRequest ? Int64(parameters.streamRequestTrips) : 1
        return Route(arrival: departure + trips * oneWayNanoseconds(from, to) + jitterNanoseconds(),
                     duplicateArrival: -1, dropped: nil)
    }

    /// A message on a link the partition cut: refused at the sender, or lost on the way.
    private mutating func cut(_ from: Int, _ to: Int) -> Route {
        guard Self.refuses(from, to, share: parameters.refusedSendShare) else { return noteDrop(.partition) }
        refusedSends[from] += 1
        return noteDrop(.sendRefused)
    }

    /// Whether the link `from → to` refuses sends when cut: a fixed share of the links,
    /// chosen by a hash of the pair (SplitMix64's finaliser).
    static func refuses(_ from: Int, _ to: Int, share: Double) -> Bool {
        guard share > 0 else { return false }
        var z = UInt64(truncatingIfNeeded: from) << 32 | UInt64(truncatingIfNeeded: to)
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) / Double(1 << 53) < share
    }

    /// Counts a drop decided outside the network (receiver down, paused buffer full).
    mutating func noteDrop(_ reason: DropReason) -> Route {
        counters.dropped[reason.rawValue] += 1
        return .drop(reason)
    }
}
