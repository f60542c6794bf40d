import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import MeshCore
import MeshWire
import Membership
import NIOCore
import NIOPosix
import ServiceLifecycle

/// What the agent prints once it is up: who it is and where it listens. Tests and scripts
/// read these lines, so their shape is kept stable.
public struct AgentBanner: Sendable {
    public var nodeID: NodeID
    public var name: String
    public var identityCreated: Bool
    public var meshAddress: HostPort

    public var lines: [String] {
        [
            "meshd: node \(nodeID) name \(name)\(identityCreated ? " (new identity)" : "")",
            "meshd: mesh listening on udp+tcp \(meshAddress)",
        ]
    }

    /// The line printed once the HTTP API serves requests.
    public static func apiLine(_ address: HostPort, tls: Bool = false) -> String {
        "meshd: api listening on \(tls ? "https" : "http")://\(address)"
    }
}

/// The agent: loads its identity and keyring, binds the mesh port (UDP, and TCP on the same
/// port), runs the membership core through `MeshRuntime`, serves the HTTP API, and on a
/// graceful shutdown (SIGTERM/SIGINT through the ServiceGroup, or `POST /v1/leave`) leaves
/// the mesh before it stops, so peers see it `left`, not `dead`.
public struct AgentService: Service {
    public let config: AgentConfig
    public let logger: Logger
    let onReady: @Sendable (AgentBanner) -> Void
    let onAPIReady: @Sendable (HostPort) -> Void

    public init(config: AgentConfig, logger: Logger, onReady: @escaping @Sendable (AgentBanner) -> Void,
                onAPIReady: @escaping @Sendable (HostPort) -> Void = { _ in }) {
        self.config = config; self.logger = logger; self.onReady = onReady; self.onAPIReady = onAPIReady
    }

    public func run() async throws {
        let tls = try apiTLS()
        let dataDir = DataDirectory(path: config.dataDir)
        try dataDir.prepare()
        let (identity, created) = try dataDir.loadOrCreateIdentity()
        let keyringStore = KeyringStore(dataDirectory: dataDir)
        let keyring = try loadKeyring(dataDir: dataDir, store: keyringStore)

        let group = MultiThreadedEventLoopGroup.singleton
        let settingsProfile = config.profile
        let socketErrors = SocketErrorCounters(logger: logger)
        let loop = group.next()
        // UDP and TCP share the mesh port. With port 0 the OS picks a UDP port that may be
        // taken for TCP; then both are bound again on another port (a bounded number of times).
        // Each socket is supervised: if it closes while the agent runs, it is bound again.
        var bound: (mesh: MeshDatagramSocket, udp: SocketSupervisor, tcp: SocketSupervisor, runtime: MeshRuntime,
                    port: Int, addresses: [PeerAddress])
        var attempt = 1
        while true {
            let bindAddress = try SocketAddress.makeAddressResolvingHost(config.bind.host, port: config.bind.port)
            let mesh = MeshDatagramSocket(address: bindAddress, loop: loop, errors: socketErrors)
            let udp = SocketSupervisor(socket: .mesh, errors: socketErrors) { try await mesh.bind() }
            let udpChannel = try await udp.start()
            let port = udpChannel.localAddress?.port ?? config.bind.port
            do {
                let addresses = try await advertisedAddresses(port: port)
                let runtime = MeshRuntime(
                    identity: identity, name: config.name, addresses: addresses,
                    metadata: MemberMetadata(tags: config.tags), profile: settingsProfile,
                    keyring: keyring, keyringStore: keyringStore, epoch: Self.wallClockMicroseconds(),
                    group: group, loop: loop, socketErrors: socketErrors, logger: logger)
                let (host, group) = (config.bind.host, group)
                let tcp = SocketSupervisor(socket: .meshListener, errors: socketErrors) {
                    try await StreamTransport.bindServer(host: host, port: port, group: group, runtime: runtime)
                }
                _ = try await tcp.start()
                bound = (mesh, udp, tcp, runtime, port, addresses)
                break
            } catch {
                await udp.stop()
                guard config.bind.port == 0, attempt < AgentLimits.ephemeralPortAttempts else { throw error }
                logger.debug("mesh port \(port) is taken for TCP; trying another", metadata: ["error": "\(error)"])
                attempt += 1
            }
        }
        let (mesh, udp, tcp, runtime, port, addresses) = bound
        await runtime.attach(mesh: mesh)
        let (services, serviceTasks) = try await startServices(runtime: runtime, identity: identity, dataDir: dataDir)
        let (node, record) = try await startNodeServices(runtime: runtime, dataDir: dataDir, eventLog: services.eventLog)
        // What the committed state places on this node, started and stopped from its own replica.
        let reconciler = NodeReconciler(consensus: services.consensus, supervisor: node.supervisor.supervisor, runtime: runtime,
                                        nodeID: identity.nodeID, nodeName: config.name, dataDirectory: dataDir.path,
                                        logger: logger)
        await services.consensus.setOnReplicaAdvanced { reconciler.nudge() }
        await services.consensus.setOnVoterSightChanged { reconciler.nudge() }
        await node.supervisor.setOnEvent { reconciler.instanceChanged() }
        await reconciler.start()
        // From here on, datagrams are opened and handled on the socket's own thread, on this
        // socket and on any the supervisor binds later.
        try await loop.submit {
            mesh.attach(runtime)
            try udp.channel?.pipeline.syncOperations.handler(type: DatagramInboundHandler.self).attach(runtime)
        }.get()

        onReady(AgentBanner(nodeID: identity.nodeID, name: config.name, identityCreated: created,
                            meshAddress: HostPort(host: config.bind.host, port: port)))
        logger.info("agent started", metadata: [
            "node": "\(identity.nodeID)", "name": "\(config.name)", "profile": "\(settingsProfile.rawValue)",
            "addresses": "\(addresses.map(\.description).joined(separator: ","))",
        ])

        let startupLogger = logger
        Task.detached(priority: .background) {
            try? await Task.sleep(for: AgentLimits.startupPagesReleaseDelay)
            let bytes = StartupPages.release()
            startupLogger.debug("released the executable's start-up pages", metadata: ["bytes": "\(bytes)"])
        }

        let startAttributes = ["name": config.name, "profile": settingsProfile.rawValue, "identity": created ? "new" : "kept"]
        Task { _ = try? await services.eventLog.append(kind: "agent.started", attributes: startAttributes) }

        let snapshot = PeersSnapshot(dataDir: config.dataDir)
        let remembered = config.rejoin ? snapshot.load().filter { !config.join.contains($0) } : []
        if !remembered.isEmpty {
            logger.info("rejoining the members this agent last knew", metadata: ["peers": "\(remembered.count)", "file": "\(snapshot.path)"])
        }
        if !config.join.isEmpty || !remembered.isEmpty {
            let (seeds, failures) = await AddressResolver.resolveAll(config.join + remembered)
            for failure in failures { logger.warning("join address skipped", metadata: ["error": "\(failure)"]) }
            await runtime.join(seeds)
        }
        let snapshotter = Task { await Self.keepPeersSnapshot(snapshot, runtime: runtime, logger: logger) }

        // A leave asked through the API ends the agent like SIGTERM does.
        let (stopRequests, stopRequest) = AsyncStream.makeStream(of: Void.self)
        let leaveTimeout = settingsProfile.membershipSettings.leavePropagation + AgentLimits.leaveGrace
        let api = makeAPI(runtime: runtime, services: services, node: node, reconciler: reconciler, record: record, leaveTimeout: leaveTimeout,
                          afterLeave: { stopRequest.yield() }, tls: tls)
        let apiGroup = ServiceGroup(configuration: .init(services: [api], logger: logger))

        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await apiGroup.run() }

            // Runs until the ServiceGroup asks for a graceful shutdown (SIGTERM, SIGINT) or
            // the API asked to leave.
            await withTaskGroup(of: Void.self) { waits in
                waits.addTask { try? await gracefulShutdown() }
                waits.addTask { for await _ in stopRequests { return } }
                await waits.next()
                waits.cancelAll()
            }

            logger.info("agent stopping")
            snapshotter.cancel()
            _ = try? await services.eventLog.append(kind: "agent.stopping", attributes: ["name": config.name])
            // Workloads stop (and their events are recorded) while the mesh still listens;
            // nothing starts them again meanwhile.
            await reconciler.stop()
            await services.scheduler.stop()
            await node.exec.stopAll()
            await node.supervisor.shutdown()
            await node.stats.stop()
            await services.consensus.transferLeadershipForLeave()
            let left = await runtime.leave(timeout: leaveTimeout)
            if !left { logger.warning("the leave was not confirmed within \(leaveTimeout); stopping anyway") }
            await apiGroup.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        services.finish()
        for task in serviceTasks { task.cancel() }
        await services.consensus.stop()
        await services.eventLog.stop()
        await runtime.stop()
        await tcp.stop()
        await udp.stop()
        mesh.closeSender()
        logger.info("agent stopped")
    }

    /// Writes `data_dir/peers` whenever the live members change (never an empty set: an
    /// agent alone, just started or cut off, keeps the members it knew before).
    static func keepPeersSnapshot(_ snapshot: PeersSnapshot, runtime: MeshRuntime, logger: Logger) async {
        var written = Set<String>()
        var failedBefore = false
        while !Task.isCancelled {
            if let next = PeersSnapshot.sample(await runtime.memberInfos(), previous: written), !next.peers.isEmpty {
                do {
                    try snapshot.save(next.peers)
                    written = next.live
                    failedBefore = false
                } catch {
                    if !failedBefore { logger.warning("peers file not written", metadata: ["file": "\(snapshot.path)", "error": "\(error)"]) }
                    failedBefore = true
                }
            }
            try? await Task.sleep(for: AgentLimits.peersSnapshotInterval)
        }
    }

    /// The HTTP API as a Service; prints its line once it listens (port 0 gives the real port).
    private func makeAPI(runtime: MeshRuntime, services: MeshServices, node: LocalServices, reconciler: NodeReconciler,
                         record: @escaping @Sendable (String, [String: String]) async -> Void, leaveTimeout: Duration,
                         afterLeave: @escaping @Sendable () -> Void, tls: TLSConfiguration?) -> some Service {
        let refusals = APIRefusals()
        let access = APIAccess(requireToken: config.apiNeedsToken, lookup: { hash in await services.consensus.token(hash: hash) },
                               refusals: refusals)
        let router = APIRoutes.router(runtime: runtime, hooks: .init(leaveTimeout: leaveTimeout, afterLeave: afterLeave,
                                                                     extraMetrics: {
            await node.stats.metricsText() + (await services.eventLog.metricsText()) + (await services.consensus.metricsText())
                + (await services.scheduler.metricsText()) + (await reconciler.metricsText()) + refusals.metricsText
                + node.exec.counters.metricsText(running: await node.exec.runningCount)
        }, access: access))
        APIRoutes.addControlRoutes(to: router, runtime: runtime, services: services)
        APIRoutes.addTokenRoutes(to: router, runtime: runtime, services: services)
        APIRoutes.addNodeRoutes(to: router, runtime: runtime, node: node, record: record) { rows in
            // ps from this agent's replica as it is: a listing, not a read that must be linearizable.
            await WorkloadView.make(await services.consensus.state.workloads, runtime: runtime).addScheduledRows(to: rows)
        }
        APIRoutes.addWorkloadRoutes(to: router, runtime: runtime, services: services)
        APIRoutes.addExecRoutes(to: router, runtime: runtime, node: node, record: record)
        let host = config.api.host
        let onAPIReady = self.onAPIReady
        var apiLogger = logger
        apiLogger.logLevel = max(logger.logLevel, .notice)
        return APIServer(
            responder: router.buildResponder(),
            address: .hostname(host, port: config.api.port),
            logger: apiLogger,
            socketErrors: runtime.socketErrors,
            tls: tls,
            onServerRunning: { channel in
                let address = HostPort(host: host, port: channel.localAddress?.port ?? 0)
                await runtime.setAPIAddress(address.description)
                onAPIReady(address)
            })
    }

    /// The API's TLS from the configured files; nil on loopback without them. An API that is
    /// not on loopback refuses to start without TLS: its tokens would cross the network in
    /// clear text.
    private func apiTLS() throws -> TLSConfiguration? {
        guard let cert = config.apiTLSCertificate, let key = config.apiTLSKey else {
            if !config.apiIsLoopback { throw APITLSError.notOnLoopbackWithoutTLS(config.api.description) }
            return nil
        }
        return try APIServer.tlsConfiguration(certificateFile: cert, keyFile: key)
    }

    /// The keyring saved by an earlier rotation, else the cluster key alone.
    private func loadKeyring(dataDir: DataDirectory, store: KeyringStore) throws -> Keyring {
        if let saved = try store.load() {
            if config.clusterKeyFile != nil,
               let configured = try? dataDir.loadOrCreateClusterKey(explicitFile: config.clusterKeyFile).key,
               !saved.keys.contains(configured) {
                logger.warning("the saved keyring does not hold the key of --cluster-key-file; the keyring wins (remove \(store.path) to start over)")
            }
            return saved
        }
        return Keyring(primary: try dataDir.loadOrCreateClusterKey(explicitFile: config.clusterKeyFile).key)
    }

    /// The addresses this member advertises: `--advertise`, else the bound address, else
    /// (bound to a wildcard) 127.0.0.1 for now.
    private func advertisedAddresses(port: Int) async throws -> [PeerAddress] {
        if let advertise = config.advertise {
            return try await AddressResolver.resolve(advertise)
        }
        let host = config.bind.host
        if host == "0.0.0.0" || host == "::" {
            logger.notice("bound to \(host) with no --advertise: advertising 127.0.0.1:\(port), reachable from this machine only; set --advertise HOST:PORT for other machines")
            return [PeerAddress(127, 0, 0, 1, port: UInt16(port))]
        }
        return try await AddressResolver.resolve(HostPort(host: host, port: port))
    }

    /// The sealer's epoch: wall-clock microseconds, which grow from one start to the next.
    static func wallClockMicroseconds() -> UInt64 {
        UInt64(Date().timeIntervalSince1970 * 1_000_000)
    }
}
