import Consensus
import EventLog
import Foundation
import Logging
import MeshCore
import MeshWire
import Membership

extension SettingsProfile {
    var replicationSettings: ReplicationSettings {
        switch self {
        case .lan: .lan
        case .wan: .wan
        case .local: .local
        }
    }

    var raftSettings: RaftSettings {
        switch self {
        case .lan, .local: .lan
        case .wan: .wan
        }
    }
}

extension AgentService {
    /// The glue between membership and the services (peers for the event log, the member
    /// view and voter policy for consensus, the advertised Raft role) runs at once when
    /// membership or this node's Raft role changes, and this often besides (voter grace
    /// periods, the storage marker). It polled every 200 ms, a fifth of an idle member's
    /// thread wake-ups.
    static let serviceGlueInterval = Duration.seconds(1)

    static func wallMilliseconds() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1000) }

    /// Opens the event log (`events.db`) and Raft (`raft.db`) in the data directory and
    /// wires them to the runtime. A node started without `--join` founds a voter set of
    /// its own (a one-node mesh leads itself); one started with `--join` waits for the
    /// mesh's leader to add it.
    func startServices(runtime: MeshRuntime, identity: SigningKeyPair, dataDir: DataDirectory) async throws -> (MeshServices, [Task<Void, Never>]) {
        let transport = RuntimeTransport(runtime: runtime)
        let eventLog = try EventLogService(storePath: "\(dataDir.path)/events.db", identity: identity,
                                           settings: config.profile.replicationSettings, transport: transport,
                                           now: { MeshClock.now() }, wallMilliseconds: { Self.wallMilliseconds() },
                                           logger: logger)
        let opened = try ConsensusService.open(dataDir: dataDir.path, id: identity.nodeID, bootstrap: config.join.isEmpty,
                                               settings: config.profile.raftSettings, policy: VoterPolicy(),
                                               transport: transport, now: { MeshClock.now() }, logger: logger)
        let consensus = opened.service
        if let reset = opened.reset {
            let (kind, attributes) = AgentEvents.raftStorageReset(reason: reset.reason, keptAt: reset.keptAt)
            do { _ = try await eventLog.append(kind: kind, attributes: attributes) } catch {
                logger.warning("cannot record the raft storage reset", metadata: ["error": "\(error)"])
            }
        }
        let scheduler = SchedulerLoop(consensus: consensus, runtime: runtime, logger: logger)
        let (services, drains) = MeshServices.make(eventLog: eventLog, consensus: consensus, scheduler: scheduler)
        let log = logger
        let publisher = ControlPublisher(eventLog: eventLog, logger: logger)
        await consensus.setBans(runtime.bans)
        await consensus.setOnApplied { batch in
            // The leader publishes what it applied, so every member learns it without Raft.
            await publisher.publish(batch, leading: await consensus.status.role == .leader)
        }
        // Every member's control replica: the stored control.* events first (a restart
        // rebuilds it), then each one as it arrives.
        await eventLog.setOnControl { events in consensus.offerPublished(events) }
        do { _ = try await eventLog.replayControl { await consensus.offerStored($0) } } catch {
            logger.warning("cannot replay the stored control events; the replica asks the leader", metadata: ["error": "\(error)"])
        }
        let (nudges, nudge) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        await consensus.setOnStatusChange { nudge.yield() }
        await runtime.attach(services: services) { change in
            nudge.yield()
            scheduler.nudge()
            guard AgentEvents.records(change.id, me: identity.nodeID, alive: await runtime.consensusView().alive) else { return }
            let (kind, attributes) = AgentEvents.memberChange(change)
            do { _ = try await eventLog.append(kind: kind, attributes: attributes) } catch {
                log.warning("cannot record a membership change", metadata: ["error": "\(error)"])
            }
        }
        // A node that founds its mesh has nobody to refill its own history from.
        if config.join.isEmpty { await eventLog.assumeOwnHistoryComplete() }
        await eventLog.summariseRejectedFrames { await runtime.rejectedFrameCounts() }
        await eventLog.start()
        await consensus.start()
        await scheduler.start()
        let ticker = Task {
            while !Task.isCancelled {
                nudge.yield()
                try? await Task.sleep(for: Self.serviceGlueInterval)
            }
            nudge.finish()
        }
        let glue = Task {
            for await _ in nudges {
                let view = await runtime.consensusView()
                await eventLog.setPeers(view.alive)
                await consensus.membershipChanged(view.members, advertisedLeader: view.leader, advertisedVoters: view.voters)
                let s = await consensus.status
                await runtime.advertise(role: s.role, term: s.term, voters: s.voters, isVoter: s.voters.contains(identity.nodeID))
                if RaftStorageRecovery.isAbstaining(dataDir: dataDir.path), await !consensus.abstaining {
                    RaftStorageRecovery.clearMarker(dataDir: dataDir.path)
                    log.info("raft storage refilled from the leader; this node may vote again when promoted")
                }
            }
        }
        return (services, drains + [ticker, glue])
    }
}
