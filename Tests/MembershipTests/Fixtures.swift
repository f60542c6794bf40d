import MeshCore
@testable import Membership

/// Deterministic ids and addresses for tests.
func nodeID(_ i: Int) -> NodeID { NodeID(w0: UInt64(i), w1: 0, w2: 0, w3: 0) }
func address(_ i: Int) -> PeerAddress { PeerAddress(10, 0, UInt8(i / 256), UInt8(i % 256), port: 7600) }
func at(_ ms: Int64) -> MeshTime { MeshTime(nanoseconds: ms * 1_000_000) }

func makeNode(_ i: Int, settings: MembershipSettings = .lan, now: MeshTime = .zero, seed: UInt64 = 1,
              incarnation: Incarnation = .zero) -> Membership {
    Membership(local: LocalMember(id: nodeID(i), name: "n\(i)", addresses: [address(i)]),
               settings: settings, random: SeededRandom(seed: seed &+ UInt64(i)), now: now, incarnation: incarnation)
}

func alive(_ i: Int, _ inc: UInt64 = 0) -> AliveUpdate {
    AliveUpdate(id: nodeID(i), incarnation: Incarnation(inc), name: "n\(i)", addresses: [address(i)], metadata: .init())
}

extension Membership {
    /// Teaches this node about members `ids` through gossip, as if they had joined.
    mutating func learn(_ ids: [Int], now: MeshTime = .zero) {
        _ = receive(.gossip(Gossip(updates: ids.map { .alive(alive($0)) })), from: nodeID(ids[0]), address: address(ids[0]), now: now)
    }
}

extension [MembershipEffect] {
    var sends: [(MembershipMessage, PeerAddress)] {
        compactMap { if case let .send(m, to) = $0 { (m, to) } else { nil } }
    }
    var changes: [MemberChange] {
        compactMap { if case let .changed(c) = $0 { c } else { nil } }
    }
    var pings: [(Ping, PeerAddress)] {
        sends.compactMap { if case let .ping(p) = $0.0 { (p, $0.1) } else { nil } }
    }
    var pingRequests: [(PingRequest, PeerAddress)] {
        sends.compactMap { if case let .pingRequest(p) = $0.0 { (p, $0.1) } else { nil } }
    }
    var acks: [(Ack, PeerAddress)] {
        sends.compactMap { if case let .ack(a) = $0.0 { (a, $0.1) } else { nil } }
    }
    var nacks: [(Nack, PeerAddress)] {
        sends.compactMap { if case let .nack(n) = $0.0 { (n, $0.1) } else { nil } }
    }
}

/// A tiny in-test network: every message takes `latency`, nothing is lost unless a node
/// is crashed or cut off. Enough to check whole-protocol behaviour in unit tests; the
/// simulator (MeshSimulation) is the full model.
struct MiniCluster {
    var nodes: [Int: Membership] = [:]
    var crashed: Set<Int> = []
    var cut: Set<Int> = []          // nodes whose traffic is dropped both ways
    var side: [Int: Int] = [:]      // partition: messages cross only between nodes of one side
    var now = MeshTime.zero
    var latency = Duration.milliseconds(1)
    var inflight: [(at: MeshTime, order: Int, to: Int, from: Int, message: MembershipMessage, fromAddress: PeerAddress)] = []
    var order = 0
    var log: [Int: [MemberChange]] = [:]

    init(size: Int, settings: MembershipSettings = .lan, seed: UInt64 = 7) {
        for i in 1 ... size { nodes[i] = makeNode(i, settings: settings, seed: seed) }
        for i in 2 ... max(2, size) where i <= size { run(i, nodes[i]!.join([address(1)], now: now)) }
    }

    func index(of a: PeerAddress) -> Int { Int(a.ip[2]) * 256 + Int(a.ip[3]) }

    mutating func run(_ i: Int, _ effects: [MembershipEffect]) {
        for e in effects {
            switch e {
            case let .send(m, to): post(m, from: i, to: index(of: to))
            case let .exchange(p, to): post(.pushPull(p), from: i, to: index(of: to))
            case let .reply(p, to): post(.pushPull(p), from: i, to: index(of: to))
            case let .changed(c): log[i, default: []].append(c)
            case .leftMesh: crashed.insert(i)
            }
        }
    }

    mutating func post(_ m: MembershipMessage, from: Int, to: Int) {
        guard !cut.contains(from), !cut.contains(to), side[from, default: 0] == side[to, default: 0] else { return }
        order += 1
        inflight.append((now + latency, order, to, from, m, address(from)))
    }

    /// Advances virtual time to `end`, delivering messages and firing timers in order.
    mutating func advance(to end: MeshTime) {
        while true {
            let nextMessage = inflight.min { ($0.at, $0.order) < ($1.at, $1.order) }
            let wake = nodes.filter { !crashed.contains($0.key) }.map { ($0.value.nextWakeup, $0.key) }.min { $0 < $1 }
            let tMsg = nextMessage?.at ?? MeshTime(nanoseconds: .max)
            let tWake = wake?.0 ?? MeshTime(nanoseconds: .max)
            let t = min(tMsg, tWake)
            guard t <= end else { now = end; return }
            now = max(now, t)
            if tMsg <= tWake, let m = nextMessage {
                inflight.removeAll { $0.order == m.order }
                guard !crashed.contains(m.to), var node = nodes[m.to] else { continue }
                let effects = node.receive(m.message, from: nodeID(m.from), address: m.fromAddress, now: now)
                nodes[m.to] = node
                run(m.to, effects)
            } else if let (_, i) = wake {
                var node = nodes[i]!
                let effects = node.tick(now: now)
                nodes[i] = node
                run(i, effects)
            }
        }
    }

    mutating func advance(by d: Duration) { advance(to: now + d) }

    func status(of target: Int, seenBy observer: Int) -> MemberStatus? {
        nodes[observer]?.member(nodeID(target))?.status
    }

    var live: [Int] { nodes.keys.filter { !crashed.contains($0) }.sorted() }
}
