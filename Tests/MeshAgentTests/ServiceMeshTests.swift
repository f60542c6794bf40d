import TestSupport
import Consensus
import EventLog
import Foundation
import Logging
@testable import MeshAgent
import MeshCore
import MeshWire
import Testing

/// Delivers service messages between in-process nodes (no sockets): what the runtime does
/// with sealed frames, minus the wire. Nodes in `cut` neither send nor receive.
actor LoopbackMesh {
    typealias Handler = @Sendable (MessageKind, [UInt8], NodeID) async -> Void
    var handlers: [NodeID: Handler] = [:]
    var cut: Set<NodeID> = []

    func register(_ id: NodeID, _ h: @escaping Handler) { handlers[id] = h }

    /// Puts `service` on the mesh as `id`: frames for `id` go to its `receive`.
    func attach(_ service: ConsensusService, as id: NodeID) {
        handlers[id] = { kind, body, from in try? await service.receive(kind: kind, body: body, from: from) }
    }

    /// Starts every service, tells each that every node is alive, and returns that view.
    static func startAll(_ services: [ConsensusService], ids: [NodeID]) async -> [NodeID: VoterPolicy.Member] {
        for s in services { await s.start() }
        let allAlive = Dictionary(uniqueKeysWithValues: ids.map { ($0, VoterPolicy.Member(alive: true)) })
        for s in services { await s.membershipChanged(allAlive) }
        return allAlive
    }
    func setCut(_ ids: Set<NodeID>) { cut = ids }

    func deliver(kind: MessageKind, body: [UInt8], from: NodeID, to: NodeID) {
        guard !cut.contains(from), !cut.contains(to), let h = handlers[to] else { return }
        Task { await h(kind, body, from) }
    }
}

struct LoopbackTransport: MeshTransport {
    let mesh: LoopbackMesh
    let me: NodeID
    func send(kind: MessageKind, body: [UInt8], to member: NodeID, channel: FrameChannel) async {
        await mesh.deliver(kind: kind, body: body, from: me, to: member)
    }
}

let testClock = ContinuousClock()
let testOrigin = testClock.now
let clockNow: @Sendable () -> MeshTime = { MeshTime(nanoseconds: (testClock.now - testOrigin).nanoseconds) }
let wallNow: @Sendable () -> UInt64 = { UInt64(Date().timeIntervalSince1970 * 1000) }

/// Polls `condition` until it holds or `timeout` passes (real time: these run real actors);
/// false, with the wait recorded as an issue, when it did not.
func eventually(_ what: String, timeout: Duration = .seconds(45), _ condition: () async -> Bool) async -> Bool {
    do { try await poll(what, timeout: timeout, interval: .milliseconds(20)) { await condition() } } catch {
        Issue.record("\(error)")
        return false
    }
    return true
}

@Suite(.serialized) struct ServiceMeshTests {
    let dir = NSTemporaryDirectory() + "meshd-services-\(UUID().uuidString)"
    init() { try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }

    /// Four started services on one loopback mesh (node 0 founds the voter set; three voters
    /// wanted), all told every node is alive.
    func fourNodes(seed: UInt8, name: String) async throws
        -> (LoopbackMesh, [SigningKeyPair], [ConsensusService], [NodeID: VoterPolicy.Member]) {
        let mesh = LoopbackMesh()
        let keys = (0 ..< 4).map { SigningKeyPair(seed: [UInt8](repeating: UInt8($0) + seed, count: 32))! }
        var services: [ConsensusService] = []
        for (i, k) in keys.enumerated() {
            let s = try ConsensusService(id: k.nodeID, storagePath: "\(dir)/\(name)-\(i).db", bootstrap: i == 0, settings: .lan,
                                         policy: VoterPolicy(desiredVoters: 3, deadGrace: .milliseconds(500)),
                                         transport: LoopbackTransport(mesh: mesh, me: k.nodeID), now: clockNow, logger: Logger(label: "test"))
            await mesh.attach(s, as: k.nodeID)
            services.append(s)
        }
        return (mesh, keys, services, await LoopbackMesh.startAll(services, ids: keys.map(\.nodeID)))
    }

    @Test func commandsFromAnyNodeCommitThroughTheLeaderWhichGrowsAndHealsItsVoterSet() async throws {
        let (mesh, keys, services, allAlive) = try await fourNodes(seed: 10, name: "raft")
        #expect(await eventually("three voters") { await services[0].status.voters.count == 3 })

        // Node 3 is outside the voter set: it forwards to the leader the mesh advertises.
        let leader = try #require(await services[0].status.leader)
        await services[3].membershipChanged(allAlive, advertisedLeader: leader, advertisedVoters: await services[0].status.voters)
        let r = await services[3].submit(.setVar(key: "db.host", value: "10.0.0.5"), requester: "test")
        guard case let .success(index) = r else { Issue.record("\(r)"); return }
        // Every voter applies it (members outside Raft learn it from the event log).
        let voters = await services[0].status.voters
        for (k, s) in zip(keys, services) where voters.contains(k.nodeID) {
            #expect(await eventually("var applied") { await s.state.vars["db.host"]?.value == "10.0.0.5" })
            #expect(await s.state.appliedIndex >= index)
        }

        // The leader dies: the others elect a new one, replace the dead voter, and commit.
        let oldLeader = try #require(await services[0].status.leader)
        await mesh.setCut([oldLeader])
        var view = allAlive
        view[oldLeader] = VoterPolicy.Member(alive: false, downSince: clockNow())
        let survivors = zip(keys, services).filter { $0.0.nodeID != oldLeader }.map(\.1)
        for s in survivors { await s.membershipChanged(view) }
        #expect(await eventually("a new leader") {
            for s in survivors { if let l = await s.status.leader, l != oldLeader { return true } }
            return false
        })
        let again = await survivors[0].submit(.setVar(key: "db.host", value: "10.0.0.6"), requester: "test")
        if case let .failure(e) = again { Issue.record("\(e)") }
        #expect(await eventually("dead voter replaced") {
            for s in survivors where await s.status.role == .leader {
                let v = await s.status.voters
                return v.count == 3 && !v.contains(oldLeader)
            }
            return false
        })
        for s in services { await s.stop() }
    }

    /// A member outside Raft asks the leader for its read index off the consensus actor
    /// (`ForwardedReads`): while its replica lags (no event log here) the read waits and
    /// repairs by fetching the leader's state; once there, reads answer at once.
    @Test func aReadOnAMemberWaitsForItsReplicaThenAnswersFromIt() async throws {
        let (_, keys, services, allAlive) = try await fourNodes(seed: 40, name: "read")
        #expect(await eventually("three voters") { await services[0].status.voters.count == 3 })
        let leader = try #require(await services[0].status.leader)
        let voters = await services[0].status.voters
        let member = try #require(zip(keys, services).first { !voters.contains($0.0.nodeID) }?.1)
        await member.membershipChanged(allAlive, advertisedLeader: leader, advertisedVoters: await services[0].status.voters)
        #expect(member.forwardedReads.leader == leader)

        let write = await services[0].submit(.setVar(key: "k", value: "v"), requester: "test")
        guard case let .success(index) = write else { Issue.record("\(write)"); return }
        let first = await member.readBarrier()
        #expect(first.map { $0 >= index } == .success(true))
        #expect(await member.state.vars["k"]?.value == "v")
        #expect(member.forwardedReads.appliedIndex >= index)

        let second = await member.readBarrier()
        #expect(second.map { $0 >= index } == .success(true))
        #expect(member.forwardedReads.count == 0)
        for s in services { await s.stop() }
        #expect(member.forwardedReads.leader == nil)
    }

    /// Nothing answers: the wait for a leader ends at `leaderWait` (a timer on the actor's
    /// thread) with the reason, instead of hanging until the command timeout.
    @Test func withoutAQuorumACommandFailsWithTheReason() async throws {
        let mesh = LoopbackMesh()
        let k = SigningKeyPair(seed: [UInt8](repeating: 1, count: 32))!
        let lone = try ConsensusService(id: k.nodeID, storagePath: "\(dir)/lone.db", bootstrap: false, settings: .lan,
                                        policy: VoterPolicy(), transport: LoopbackTransport(mesh: mesh, me: k.nodeID),
                                        now: clockNow, logger: Logger(label: "test"))
        await lone.start()
        let r = await lone.submit(.setVar(key: "k", value: "v"), requester: "test")
        #expect(r == .failure(.noLeader(reachable: 0, voters: 0)))
        #expect(await lone.waitingForLeader == 0)
        await lone.stop()
    }

    @Test func eventsAppendedAnywhereReachEveryNodeAndFollowersSeeThem() async throws {
        let mesh = LoopbackMesh()
        let keys = (0 ..< 3).map { SigningKeyPair(seed: [UInt8](repeating: UInt8($0 + 50), count: 32))! }
        var logs: [EventLogService] = []
        for (i, k) in keys.enumerated() {
            let s = try EventLogService(storePath: "\(dir)/events-\(i).db", identity: k, settings: .local,
                                        transport: LoopbackTransport(mesh: mesh, me: k.nodeID), now: clockNow,
                                        wallMilliseconds: wallNow, logger: Logger(label: "test"))
            await mesh.register(k.nodeID) { kind, body, from in try? await s.receive(kind: kind, body: body, from: from) }
            await s.setPeers(keys.map(\.nodeID))
            logs.append(s)
        }
        for s in logs { await s.start() }
        let follow = try await logs[2].follow(EventQuery(kindPrefix: "user."))
        let e = try await logs[0].append(kind: "user.deploy", attributes: ["who": "ana"])
        for s in logs { #expect(await eventually("event replicated") { (try? await s.query(EventQuery()))?.contains(e) == true }) }
        var it = follow.makeAsyncIterator()
        #expect(await it.next() == e)
        for s in logs { await s.stop() }
    }
}
