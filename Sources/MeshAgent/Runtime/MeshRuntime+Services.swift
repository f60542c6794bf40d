import Consensus
import EventLog
import MeshCore
import MeshWire
import Membership

/// The replicated services above membership (event log, Raft, the leader's scheduler) that
/// ride on the runtime's sockets and member table; `LocalServices` are this node's own.
///
/// Their frames go through one bounded inbox per service, handled on that service's own
/// thread: a service that waits on its disk (Raft's and the event log's fsyncs) never delays
/// the membership protocol's probes and acks. Raft's inbox is its thread's own task queue
/// (`ConsensusService.post`); the event log's is a stream its actor drains.
struct MeshServices: Sendable {
    let eventLog: EventLogService
    let consensus: ConsensusService
    /// The leader's planning loop (idle on other agents).
    let scheduler: SchedulerLoop
    let eventInbox: AsyncStream<Frame>.Continuation

    /// Message kinds from here up belong to the services (see `MessageKind`'s ranges).
    static let firstKind: UInt8 = 32
    /// Frames waiting per service; beyond it frames are dropped and counted (the event
    /// log's oldest, Raft's newest; Raft retransmits, anti-entropy repairs).
    static let inboxFrames = 4096

    /// Wires the inboxes to the services; returns the tasks draining them.
    static func make(eventLog: EventLogService, consensus: ConsensusService, scheduler: SchedulerLoop) -> (MeshServices, [Task<Void, Never>]) {
        let (events, eventInbox) = AsyncStream.makeStream(of: Frame.self, bufferingPolicy: .bufferingNewest(inboxFrames))
        let drains = [
            Task { await eventLog.drain(events) },
        ]
        return (MeshServices(eventLog: eventLog, consensus: consensus, scheduler: scheduler, eventInbox: eventInbox), drains)
    }

    func finish() { eventInbox.finish() }
}

/// The runtime as the services' transport: it seals, signs and addresses their messages.
struct RuntimeTransport: MeshTransport {
    let runtime: MeshRuntime
    func send(kind: MessageKind, body: [UInt8], to member: NodeID, channel: FrameChannel) async {
        await runtime.sendToMember(kind: kind, body: body, member: member, channel: channel)
    }

    /// A datagram to a member whose address the runtime handed over lately goes out from
    /// the caller's thread (`DirectDatagrams`); anything else takes one hop onto the
    /// socket's thread, where the runtime seals and writes it.
    func post(kind: MessageKind, body: [UInt8], to member: NodeID, channel: FrameChannel) -> Bool {
        let runtime = runtime
        if case .datagram = channel, runtime.direct.send(kind: kind, body: body, to: member) { return true }
        runtime.loop.execute {
            runtime.assumeIsolated { $0.sendToMember(kind: kind, body: body, member: member, channel: channel) }
        }
        return true
    }
}

/// Keys of the member metadata through which the consensus layer advertises itself, so
/// members outside the voter set know where to forward commands and `members` shows roles.
enum RaftMetadata {
    static let role = "raft_role"
    static let term = "raft_term"
    static let voters = "raft_voters"
}

extension MeshRuntime {
    func attach(services: MeshServices, onChange: @escaping @Sendable (MemberChange) async -> Void) {
        self.services = services
        changeObserver = onChange
    }

    /// Service frames whose body did not decode, by reason (the services count them on
    /// their own threads).
    var servicesDecodeRejected: RejectCounters {
        var out = RejectCounters()
        if let services {
            out.add(services.eventLog.undecodable.snapshot)
            out.add(services.consensus.undecodable.snapshot)
        }
        return out
    }

    /// Hands a verified frame to the inbox of the service it belongs to.
    func routeToServices(_ frame: Frame) {
        guard let services else { counters.misroutedFrames &+= 1; return }
        switch frame.kind {
        case .eventPush, .eventDigest, .eventBatch, .eventIHave, .eventGraft, .eventPrune, .eventDigestDelta:
            if case .dropped = services.eventInbox.yield(frame) { counters.datagramsDropped &+= 1 }
        case .raftRequestVote, .raftVoteResponse, .raftAppendEntries, .raftAppendResponse, .raftTimeoutNow,
             .raftInstallSnapshot, .raftSnapshotResponse,
             .commandForward, .commandReply, .controlStateRequest, .controlStateReply, .readQuery, .readQueryReply:
            if !services.consensus.post(frame) { counters.datagramsDropped &+= 1 }
        default:
            counters.misroutedFrames &+= 1
        }
    }

    /// Sends a service's message to a live member, as a datagram or a one-way stream frame.
    func sendToMember(kind: MessageKind, body: [UInt8], member: NodeID, channel: FrameChannel) {
        guard let m = membership.member(member), m.status == .alive || m.status == .suspect,
              let address = m.answeredAddress ?? m.addresses.first else {
            socketErrors.count(channel == .datagram ? .mesh : .stream, .notAlive)
            return
        }
        switch channel {
        case .datagram:
            sendDatagram(kind: kind, body: body, to: address)
            direct.learn(member, at: address.socketAddress)
        case .stream:
            guard activeStreamSends < AgentLimits.maxConcurrentExchanges, let frame = sealStream(kind: kind, body: body) else {
                counters.exchangesSkipped &+= 1
                return
            }
            activeStreamSends += 1
            let group = self.group
            Task {
                do {
                    try await StreamTransport.deliver(frame, to: address.socketAddress, group: group, timeout: AgentLimits.streamExchangeTimeout)
                } catch {
                    self.socketErrors.recordStream(error, to: address.socketAddress)
                    self.streamSendFailed()
                }
                self.streamSendFinished()
            }
        }
    }

    private func streamSendFinished() { activeStreamSends -= 1 }
    private func streamSendFailed() { counters.exchangesFailed &+= 1 }

    /// What membership says of every member, for the voter policy, and what the mesh
    /// advertises of its leader and voters.
    func consensusView() -> (members: [NodeID: VoterPolicy.Member], leader: NodeID?, voters: [NodeID], alive: [NodeID]) {
        var view: [NodeID: VoterPolicy.Member] = [:]
        var leader: (NodeID, UInt64)?
        var voterPrefixes: [String] = []
        for m in membership.members {
            let alive = m.status == .alive || m.status == .suspect
            view[m.id] = VoterPolicy.Member(alive: alive, downSince: alive ? nil : m.statusSince,
                                            neverVoter: m.metadata.tags["voter"] == "never")
            if alive, m.metadata.resources[RaftMetadata.role] == "leader" {
                let term = UInt64(m.metadata.resources[RaftMetadata.term] ?? "") ?? 0
                if leader.map({ term > $0.1 }) ?? true {
                    leader = (m.id, term)
                    voterPrefixes = (m.metadata.resources[RaftMetadata.voters] ?? "").split(separator: ",").map(String.init)
                }
            }
        }
        let voters = view.keys.filter { id in voterPrefixes.contains { id.hex.hasPrefix($0) } }.sorted()
        return (view, leader?.0, voters, view.filter(\.value.alive).map(\.key).sorted())
    }

    /// Advertises this node's Raft role in its metadata (disseminated like any change).
    func advertise(role: RaftRole, term: Term, voters: [NodeID], isVoter: Bool) {
        var resources = metadata.resources
        let name = role == .leader ? "leader" : isVoter ? "voter" : nil
        resources[RaftMetadata.role] = name
        resources[RaftMetadata.term] = role == .leader ? "\(term.value)" : nil
        resources[RaftMetadata.voters] = role == .leader ? voters.map(\.description).joined(separator: ",") : nil
        guard resources != metadata.resources else { return }
        metadata.resources = resources
        publishMetadata()
    }
}
