import Logging
import MeshCore
import MeshWire
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
}

/// The agent: loads its identity and keys, binds the mesh port (UDP, and TCP on the same
/// port), and runs until a graceful shutdown (SIGTERM/SIGINT through the ServiceGroup).
public struct AgentService: Service {
    public let config: AgentConfig
    public let logger: Logger
    let onReady: @Sendable (AgentBanner) -> Void

    public init(config: AgentConfig, logger: Logger, onReady: @escaping @Sendable (AgentBanner) -> Void) {
        self.config = config; self.logger = logger; self.onReady = onReady
    }

    public func run() async throws {
        let dataDir = DataDirectory(path: config.dataDir)
        try dataDir.prepare()
        let (identity, created) = try dataDir.loadOrCreateIdentity()
        let (clusterKey, _) = try dataDir.loadOrCreateClusterKey(explicitFile: config.clusterKeyFile)
        let keyring = Keyring(primary: clusterKey)

        let group = MultiThreadedEventLoopGroup.singleton
        let udp = try await DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(FrameInboundHandler(keyring: keyring))
                }
            }
            .bind(host: config.bind.host, port: config.bind.port).get()
        let port = udp.localAddress?.port ?? config.bind.port
        let tcp: Channel
        do {
            tcp = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: config.bind.host, port: port).get()
        } catch {
            try? await udp.close()
            throw error
        }
        onReady(AgentBanner(nodeID: identity.nodeID, name: config.name, identityCreated: created,
                            meshAddress: HostPort(host: config.bind.host, port: port)))
        logger.info("agent started", metadata: ["node": "\(identity.nodeID)", "name": "\(config.name)"])

        // Runs until the ServiceGroup asks for a graceful shutdown (SIGTERM, SIGINT).
        try? await gracefulShutdown()

        logger.info("agent stopping")
        try? await tcp.close()
        try? await udp.close()
    }
}

/// Opens every datagram that arrives on the mesh port and counts what it refuses.
/// Lives on the channel's event loop, so its state needs no lock.
final class FrameInboundHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    let keyring: Keyring
    var opener = FrameOpener()
    var accepted: UInt64 = 0

    init(keyring: Keyring) { self.keyring = keyring }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let bytes = Array(envelope.data.readableBytesView)
        if (try? opener.open(bytes, keyring: keyring)) != nil { accepted += 1 }
    }
}
