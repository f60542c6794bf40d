import Logging
import MeshCore
import MeshWire
import Membership
import NIOCore

/// The shell around the membership core: owns the `Membership` state machine, the frame
/// sealer and openers and the keyring, and turns the core's effects into datagrams, TCP
/// exchanges and timers (the SWIMNIOShell of swift-cluster-membership).
///
/// Everything that touches the core runs on this actor, so the core needs no lock. Time is
/// NIO's monotonic uptime clock; one timer is kept armed at the core's `nextWakeup`.
///
/// The actor runs on the mesh socket's own event loop (`loop`): a datagram is opened and
/// handled on the thread that read it, and what the core sends is written from that
/// thread, with no hand-off to the cooperative pool and back. Hand-offs between threads
/// were most of an idle agent's CPU (about a dozen context switches per Raft heartbeat).
actor MeshRuntime {
    let identity: SigningKeyPair
    let settings: MembershipSettings
    let profile: SettingsProfile
    let logger: Logger
    let localName: String
    let localAddresses: [PeerAddress]
    let startedAt: MeshTime
    let keyringStore: KeyringStore?

    var membership: Membership
    /// The datagram sealer (shared with the services' threads) and their sending socket.
    nonisolated let direct: DirectDatagrams
    /// Stream frames get their own sequence: several go out at once on separate
    /// connections, and interleaved with the datagrams' numbers they would fall behind the
    /// receiver's 64-frame replay window and be refused.
    var streamSealer: FrameSealer
    var keyring: Keyring {
        didSet { direct.sealing.setKeyring(keyring) }
    }
    var datagramOpener = FrameOpener()
    /// Stream frames have their own replay window: a push-pull may arrive after many
    /// datagrams sealed later by the same sender.
    var streamOpener = FrameOpener()
    var counters = RuntimeCounters()
    var metadata: MemberMetadata
    var apiAddress: String = ""

    let group: any EventLoopGroup
    /// The mesh socket's event loop, which is this actor's executor.
    nonisolated let loop: any EventLoop
    nonisolated var unownedExecutor: UnownedSerialExecutor { loop.executor.asUnownedSerialExecutor() }
    private var mesh: MeshDatagramSocket?
    /// Sends the kernel refused, by socket and reason, and the sockets bound again.
    nonisolated let socketErrors: SocketErrorCounters
    /// Nodes whose frames are refused (the control state's bans, kept by the consensus service).
    nonisolated let bans = BanList()
    private var timer: Scheduled<Void>?
    private var timerDeadline: MeshTime?
    private var activeExchanges = 0

    enum LeaveState { case member, leaving, left }
    private(set) var leaveState = LeaveState.member
    private var leaveWaiters: [Int: CheckedContinuation<Bool, Never>] = [:]
    private var nextWaiterID = 0

    /// The layers above membership (event log, consensus) that share these sockets.
    var services: MeshServices?
    /// Answers other members' `nodeQuery` (instances, logs, stats of this node).
    var nodeQueryHandler: (@Sendable (NodeQuery, NodeID) async -> NodeReply)?
    /// Told of every membership change (the agent records them as events).
    var changeObserver: (@Sendable (MemberChange) async -> Void)?
    /// One-way stream frames being sent now (bounded by `AgentLimits.maxConcurrentExchanges`).
    var activeStreamSends = 0

    var keyOperations: [UInt64: PendingKeyOperation] = [:]
    var answeredKeyRequests: [KeyRequestID: KeyringReply] = [:]
    var answeredKeyRequestOrder: [KeyRequestID] = []
    var random: SeededRandom

    init(identity: SigningKeyPair, name: String, addresses: [PeerAddress], metadata: MemberMetadata,
         profile: SettingsProfile, keyring: Keyring, keyringStore: KeyringStore?, epoch: UInt64,
         group: any EventLoopGroup, loop: any EventLoop, socketErrors: SocketErrorCounters, logger: Logger) {
        self.identity = identity
        self.profile = profile
        self.settings = profile.membershipSettings
        self.logger = logger
        self.localName = name
        self.localAddresses = addresses
        self.metadata = metadata
        self.keyring = keyring
        self.keyringStore = keyringStore
        self.group = group
        self.loop = loop
        let now = MeshClock.now()
        self.startedAt = now
        var seedSource = SeededRandom.fromSystemEntropy()
        self.random = seedSource.fork()
        self.socketErrors = socketErrors
        self.direct = DirectDatagrams(sealing: DatagramSealing(sealer: FrameSealer(identity: identity, epoch: epoch), keyring: keyring),
                                      errors: socketErrors)
        self.streamSealer = FrameSealer(identity: identity, epoch: epoch)
        self.membership = Membership(local: LocalMember(id: identity.nodeID, name: name, addresses: addresses, metadata: metadata),
                                     settings: profile.membershipSettings, random: seedSource, now: now)
    }

    /// Starts sending on the mesh socket and arms the first timer.
    func attach(mesh: MeshDatagramSocket) {
        self.mesh = mesh
        do { try direct.open(beside: mesh.boundAddress) } catch {
            logger.warning("services send through the mesh socket's thread", metadata: ["error": "\(error)"])
        }
        rearm()
    }

    // MARK: Inbound

    /// Opens, decodes and feeds the core every datagram of one socket read.
    func deliver(_ batch: InboundBatch) {
        counters.datagramsDropped &+= batch.droppedDatagramsBefore
        for datagram in batch.datagrams {
            counters.datagramsIn &+= 1
            counters.bytesInDatagram &+= UInt64(datagram.bytes.count)
            // Refusals are counted by the opener, by reason.
            guard let frame = try? datagramOpener.open(datagram.bytes, keyring: keyring) else { continue }
            if bans.contains(frame.sender) { counters.bannedFrames &+= 1; continue }
            switch frame.kind {
            case .keyringCommand: handleKeyringCommand(frame, from: datagram.source)
            case .keyringReply: handleKeyringReply(frame)
            case .pushPull: counters.misroutedFrames &+= 1   // push-pull travels on TCP only
            case _ where frame.kind.rawValue >= MeshServices.firstKind:
                routeToServices(frame)
            default:
                let message: MembershipMessage
                do { message = try MembershipMessage.decode(kind: frame.kind, body: frame.body) } catch {
                    counters.decodeRejected.record(error.reason)
                    logger.debug("undecodable message", metadata: ["from": "\(frame.sender)", "error": "\(error)"])
                    continue
                }
                execute(membership.receive(message, from: frame.sender, address: datagram.source, now: MeshClock.now()))
            }
        }
        rearm()
    }

    /// Answers the push-pull or node query that arrived on an inbound TCP connection; nil
    /// closes it unanswered.
    func answerStream(_ bytes: [UInt8], from source: PeerAddress) async -> [UInt8]? {
        counters.bytesInStream &+= UInt64(bytes.count)
        guard let frame = try? streamOpener.open(bytes, keyring: keyring, channel: .stream) else { return nil }
        if bans.contains(frame.sender) { counters.bannedFrames &+= 1; return nil }
        if frame.kind == .nodeQuery { return await answerNodeQuery(frame) }
        if frame.kind.rawValue >= MeshServices.firstKind {
            routeToServices(frame)   // one-way: no answer on the stream
            return nil
        }
        guard frame.kind == .pushPull else { counters.misroutedFrames &+= 1; return nil }
        let message: MembershipMessage
        do { message = try MembershipMessage.decode(kind: frame.kind, body: frame.body) } catch {
            counters.decodeRejected.record(error.reason)
            return nil
        }
        var reply: PushPull?
        let effects = membership.receive(message, from: frame.sender, address: source, now: MeshClock.now())
        execute(effects.filter { effect in
            if case let .reply(answer, _) = effect, reply == nil { reply = answer; return false }
            return true
        })
        rearm()
        guard let reply else { return nil }
        return sealStream(.pushPull(reply))
    }

    // MARK: Commands

    /// Contacts `seeds`; the core retries with backoff until one answers.
    func join(_ seeds: [PeerAddress]) {
        guard !seeds.isEmpty else { return }
        execute(membership.join(seeds, now: MeshClock.now()))
        rearm()
    }

    /// Leaves the mesh gracefully: the core disseminates the leave and reports `.leftMesh`.
    /// Returns whether that happened within `timeout`.
    func leave(timeout: Duration) async -> Bool {
        switch leaveState {
        case .left: return true
        case .leaving: break
        case .member:
            leaveState = .leaving
            logger.info("leaving the mesh")
            execute(membership.leave(now: MeshClock.now()))
            rearm()
        }
        if leaveState == .left { return true }
        let id = nextWaiterID
        nextWaiterID += 1
        return await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            leaveWaiters[id] = continuation
            Task { [weak self] in
                try? await Task.sleep(for: timeout)
                await self?.leaveWaitExpired(id)
            }
        }
    }

    private func leaveWaitExpired(_ id: Int) {
        leaveWaiters.removeValue(forKey: id)?.resume(returning: false)
    }

    /// Publishes a new API address in this member's metadata.
    func setAPIAddress(_ address: String) {
        apiAddress = address
        metadata.apiAddress = address
        publishMetadata()
    }

    /// Disseminates this member's metadata, unless a leave has begun: a metadata change
    /// raises the incarnation, and an alive update above the leave brings the leaving
    /// member back to life in every peer's table (then, once it stops, it is declared
    /// dead instead of left). The core accepts such a change during `leavePropagation`.
    func publishMetadata() {
        guard leaveState == .member else { return }
        execute(membership.updateMetadata(metadata, now: MeshClock.now()))
        rearm()
    }

    // MARK: Effects

    func execute(_ effects: [MembershipEffect]) {
        for effect in effects {
            switch effect {
            case let .send(message, to): sendDatagram(kind: message.kind, body: message.encoded, to: to)
            case let .exchange(pushPull, to): startExchange(pushPull, to: to)
            case .reply:
                // Only an inbound stream can carry a reply; `answerStream` takes it out first.
                logger.debug("push-pull reply with no stream to carry it")
            case let .changed(change):
                counters.changes[change.kind, default: 0] &+= 1
                direct.forget(change.id)
                if let observer = changeObserver { Task { await observer(change) } }
                logger.info("member \(change.kind.rawValue)", metadata: [
                    "member": "\(change.name)", "id": "\(change.id)", "incarnation": "\(change.incarnation)",
                    "by": "\(change.by.map { "\($0)" } ?? "-")",
                ])
            case .leftMesh:
                leaveState = .left
                logger.info("left the mesh")
                for (_, waiter) in leaveWaiters { waiter.resume(returning: true) }
                leaveWaiters.removeAll()
            }
        }
    }

    func sendDatagram(kind: MessageKind, body: [UInt8], to address: PeerAddress) {
        guard let mesh else { return }
        let bytes: [UInt8]
        do { bytes = try direct.sealing.seal(kind: kind, body: body) } catch {
            socketErrors.count(.mesh, .unsealable)
            logger.warning("cannot seal a datagram", metadata: ["kind": "\(kind)", "error": "\(error)"])
            return
        }
        // A refused send is counted and logged by the socket; it loses this datagram only.
        guard mesh.send(bytes, to: address.socketAddress) else { return }
        counters.datagramsOut &+= 1
        counters.bytesOutDatagram &+= UInt64(bytes.count)
    }

    func sealStream(_ message: MembershipMessage) -> [UInt8]? {
        sealStream(kind: message.kind, body: message.encoded)
    }

    func sealStream(kind: MessageKind, body: [UInt8]) -> [UInt8]? {
        do {
            let bytes = try streamSealer.seal(kind: kind, body: body, keyring: keyring, channel: .stream)
            counters.bytesOutStream &+= UInt64(bytes.count)
            return bytes
        } catch {
            socketErrors.count(.stream, .unsealable)
            logger.warning("cannot seal a stream frame", metadata: ["error": "\(error)"])
            return nil
        }
    }

    private func startExchange(_ pushPull: PushPull, to address: PeerAddress) {
        guard activeExchanges < AgentLimits.maxConcurrentExchanges else {
            counters.exchangesSkipped &+= 1
            return
        }
        guard let frame = sealStream(.pushPull(pushPull)) else { return }
        activeExchanges += 1
        let group = self.group
        Task {
            do {
                let reply = try await StreamTransport.exchange(frame, to: address.socketAddress, group: group,
                                                               timeout: AgentLimits.streamExchangeTimeout)
                self.exchangeFinished(reply: reply, from: address, error: nil)
            } catch {
                self.socketErrors.recordStream(error, to: address.socketAddress)
                self.exchangeFinished(reply: nil, from: address, error: error)
            }
        }
    }

    private func exchangeFinished(reply: [UInt8]?, from address: PeerAddress, error: (any Error)?) {
        activeExchanges -= 1
        guard let reply else {
            counters.exchangesFailed &+= 1
            logger.debug("push-pull failed", metadata: ["peer": "\(address)", "error": "\(error.map { "\($0)" } ?? "-")"])
            return
        }
        counters.bytesInStream &+= UInt64(reply.count)
        guard let frame = try? streamOpener.open(reply, keyring: keyring, channel: .stream) else {
            counters.exchangesFailed &+= 1
            return
        }
        if bans.contains(frame.sender) { counters.bannedFrames &+= 1; counters.exchangesFailed &+= 1; return }
        let message: MembershipMessage
        do throws(WireError) {
            guard frame.kind == .pushPull else { throw WireError.unknownKind(frame.kind.rawValue) }
            message = try MembershipMessage.decode(kind: frame.kind, body: frame.body)
        } catch {
            counters.decodeRejected.record(error.reason)
            counters.exchangesFailed &+= 1
            return
        }
        counters.exchangesOK &+= 1
        execute(membership.receive(message, from: frame.sender, address: address, now: MeshClock.now()))
        rearm()
    }

    // MARK: Timer

    /// Keeps one timer armed at the core's next wake-up (re-armed only when it moves earlier;
    /// a timer that fires early just re-arms).
    func rearm() {
        // A wake-up already due is taken after a short gap, so a core that keeps asking
        // for "now" cannot spin this actor.
        let wake = max(membership.nextWakeup, MeshClock.now() + AgentLimits.minimumTimerGap)
        if let armed = timerDeadline, armed <= wake, timer != nil { return }
        timer?.cancel()
        timerDeadline = wake
        timer = loop.scheduleTask(deadline: MeshClock.deadline(wake)) { [weak self] in
            // Scheduled on `loop`, which is this actor's executor.
            self?.assumeIsolated { $0.timerFired() }
        }
    }

    private func timerFired() {
        timer = nil
        timerDeadline = nil
        let now = MeshClock.now()
        if now >= membership.nextWakeup {
            execute(membership.tick(now: now))
        }
        rearm()
    }

    /// Stops the timer (at shutdown).
    func stop() {
        timer?.cancel()
        timer = nil
        mesh = nil
        direct.close()
        for (_, waiter) in leaveWaiters { waiter.resume(returning: false) }
        leaveWaiters.removeAll()
    }
}

extension SettingsProfile {
    /// The membership timing of this profile.
    public var membershipSettings: MembershipSettings {
        switch self {
        case .lan: .lan
        case .wan: .wan
        case .local: .local
        }
    }
}
