import Consensus
import EventLog
import NIOCore
import NIOPosix
import Synchronization
import Logging
import MeshCore
import MeshWire

/// A forwarded command and its answer (message kinds `commandForward`/`commandReply`).
struct ForwardedCommand: Sendable, Equatable {
    var requestID: UInt64
    /// Empty: a linearizable read barrier.
    var command: [UInt8]

    var encoded: [UInt8] { var w = ByteWriter(); w.write(requestID); w.writeBlob(command); return w.bytes }
    static func decode(_ b: [UInt8]) throws(WireError) -> ForwardedCommand {
        var r = ByteReader(b)
        let f = ForwardedCommand(requestID: try r.readUInt64(), command: try r.readBlob(limit: RaftLimits.maxCommandBytes))
        try r.expectEnd()
        return f
    }
}

struct CommandReply: Sendable, Equatable {
    var requestID: UInt64
    var index: UInt64
    /// Empty when it succeeded.
    var error: String

    var encoded: [UInt8] { var w = ByteWriter(); w.write(requestID); w.write(index); w.write(error); return w.bytes }
    static func decode(_ b: [UInt8]) throws(WireError) -> CommandReply {
        var r = ByteReader(b)
        let c = CommandReply(requestID: try r.readUInt64(), index: try r.readUInt64(), error: try r.readString(limit: 4096))
        try r.expectEnd()
        return c
    }
}

/// What `meshctl status` shows of consensus.
public struct ConsensusStatus: Sendable, Equatable {
    public var role: RaftRole
    public var leader: NodeID?
    public var term: Term
    public var commitIndex: LogIndex
    public var appliedIndex: LogIndex
    public var voters: [NodeID]
    public var learners: [NodeID]
    /// The control replica's lag behind `commitIndex` (the highest index this node knows
    /// committed) and how long ago it last applied anything.
    public var lagEntries: UInt64 = 0
    public var appliedAge: Duration = .zero
}

/// `controlStateRequest`: a member asks the leader for its control state (`controlStateReply`).
struct ControlStateReply: Sendable, Equatable {
    var requestID: UInt64
    /// The index the state is at (zero with an error).
    var index: UInt64
    var state: [UInt8]
    /// Empty when it succeeded.
    var error: String
    /// The newest configuration entry at or before `index`, and its voters, when the
    /// sender's replica knows it (for the receiver's quorum reads). Optional at the end of
    /// the body: absent when unknown.
    var configuration: ConfigurationRef?

    struct ConfigurationRef: Sendable, Equatable {
        var index: UInt64
        var voters: [NodeID]
    }

    init(requestID: UInt64, index: UInt64, state: [UInt8], error: String, configuration: ConfigurationRef? = nil) {
        self.requestID = requestID; self.index = index; self.state = state; self.error = error; self.configuration = configuration
    }

    var encoded: [UInt8] {
        var w = ByteWriter()
        w.write(requestID); w.write(index); w.writeBlob(state); w.write(error)
        if let configuration {
            w.write(configuration.index)
            w.writeList(configuration.voters) { w, id in w.write(id) }
        }
        return w.bytes
    }

    static func decode(_ b: [UInt8]) throws(WireError) -> ControlStateReply {
        var r = ByteReader(b)
        var c = ControlStateReply(requestID: try r.readUInt64(), index: try r.readUInt64(),
                                  state: try r.readBlob(limit: WireLimits.maxStreamFrameBytes), error: try r.readString(limit: 4096))
        if !r.isAtEnd {
            c.configuration = ConfigurationRef(index: try r.readUInt64(), voters: try r.readList(limit: RaftLimits.maxVoters, minElementBytes: 32) {
                (r: inout ByteReader) throws(WireError) in try r.readNodeID()
            })
        }
        try r.expectEnd()
        return c
    }
}

/// The service's inbound messages: commands forwarded between agents, control-state
/// fetches, and Raft's own, handed to this actor's thread in order.
extension ConsensusService {
    func receive(kind: MessageKind, body: [UInt8], from member: NodeID) throws(WireError) {
        switch kind {
        case .commandForward:
            let f = try ForwardedCommand.decode(body)
            if f.command.isEmpty {
                // A read: the leader's read index, no log entry (thesis §6.4).
                guard node.role == .leader else {
                    return reply(CommandReply(requestID: f.requestID, index: 0, error: RaftError.notLeader(leader: node.leader).description), to: member)
                }
                return requestRead(.remote(member, requestID: f.requestID))
            }
            if node.role == .leader, waiters.count + batch.count < Self.maxPendingCommands {
                if unpublished < maxUnpublishedApplied {
                    enqueue(f.command, .remote(member, requestID: f.requestID))
                } else {
                    whenAdmitted { [self] admitted in    // waits apart: the inbox keeps flowing meanwhile
                        if admitted { enqueue(f.command, .remote(member, requestID: f.requestID)) } else {
                            reply(CommandReply(requestID: f.requestID, index: 0, error: ConsensusError.timedOut(Self.commandTimeout).description), to: member)
                        }
                    }
                }
            } else {
                let why = node.role == .leader ? "too many commands waiting; retry" : RaftError.notLeader(leader: node.leader).description
                reply(CommandReply(requestID: f.requestID, index: 0, error: why), to: member)
            }
        case .commandReply:
            let r = try CommandReply.decode(body)
            if answerForwardedRead(r) { return }
            guard let f = forwarded.removeValue(forKey: r.requestID) else { return }
            guard r.error.isEmpty else { return f.caller.resume(returning: .failure(.refused(r.error))) }
            answerOnceApplied(f.caller, index: LogIndex(r.index), isRead: f.isRead)
        case .controlStateRequest:
            var r = ByteReader(body)
            let requestID = try r.readUInt64()
            try r.expectEnd()
            guard node.role == .leader else {
                let why = RaftError.notLeader(leader: node.leader).description
                return post(Outbound(kind: .controlStateReply, body: ControlStateReply(requestID: requestID, index: 0, state: [], error: why).encoded, to: member))
            }
            requestRead(.state(member, requestID: requestID))
        case .controlStateReply:
            let r = try ControlStateReply.decode(body)
            guard stateFetch?.requestID == r.requestID else { return }
            var installed = false
            if r.error.isEmpty, let s = try? ControlState(snapshot: r.state) {
                installed = replica.install(s, at: LogIndex(r.index), configuration: r.configuration.map { (LogIndex($0.index), $0.voters) }, now: now())
                if installed { stateFetches += 1; wakeApplyWaiters() }
            } else {
                logger.info("the leader did not send its control state", metadata: ["error": "\(r.error)"])
            }
            finishFetch(r.requestID, installed || replica.appliedIndex >= LogIndex(r.index) && r.error.isEmpty)
        default:
            let message = try RaftMessage.decode(kind: kind, body: body)
            execute(node.step(message, from: member, now: now()))
        }
    }

    /// Hands a verified frame to this actor's own thread, where it is handled in order
    /// with the frames posted before it: one hand-off between threads per frame, and no
    /// stop on the cooperative pool (a heartbeat and its answer are most of an idle
    /// leader's work). False, and nothing is done, when `MeshServices.inboxFrames` wait
    /// already; Raft's retries and heartbeats make up for a dropped frame.
    nonisolated func post(_ frame: Frame) -> Bool {
        if answerForwardedRead(frame) || handleQuorumFrame(frame) { return true }
        let admitted = inboxDepth.withLock { depth in
            guard depth < MeshServices.inboxFrames else { return false }
            depth += 1
            return true
        }
        guard admitted else { return false }
        onOwnThread { service in
            service.inboxDepth.withLock { $0 -= 1 }
            service.handle(frame)
        }
        return true
    }

    /// Handles one verified frame; a body that does not decode is counted in `undecodable`
    /// (by reason, into `meshd_frames_rejected_total`) and dropped.
    func handle(_ frame: Frame) {
        do { try receive(kind: frame.kind, body: frame.body, from: frame.sender) } catch {
            undecodable.record(error.reason)
            logger.debug("undecodable consensus message", metadata: ["from": "\(frame.sender)", "error": "\(error)"])
        }
        rearmIfMoved()
        noteStatus()
    }

    func reply(_ r: CommandReply, to member: NodeID) {
        post(Outbound(kind: .commandReply, body: r.encoded, to: member))
    }
}
