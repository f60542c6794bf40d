import Dispatch
import MeshAPI
import MeshCore
import MeshWire
import Membership

/// Identifies one keyring request: who asked and their request number.
struct KeyRequestID: Hashable, Sendable {
    var sender: NodeID
    var requestID: UInt64
}

/// A keyring command this agent sent and is collecting answers for.
struct PendingKeyOperation {
    var command: KeyringCommand
    var targets: [NodeID: (name: String, address: PeerAddress)]
    var replies: [NodeID: KeyringReply] = [:]
    var continuation: CheckedContinuation<[NodeID: KeyringReply], Never>?

    var complete: Bool { replies.count >= targets.count }
}

/// What a keyring operation came to.
enum KeyringOutcome: Sendable {
    /// This agent refused the change itself (e.g. removing the primary); nothing was sent.
    case refused(String)
    /// Each member's answer, this agent first.
    case done([MemberKeyResult])
}

extension MeshRuntime {
    /// The keys this agent holds, the primary first.
    var localFingerprints: [String] { keyring.keys.map(\.fingerprint) }

    /// A key named by its base64 text, or by the fingerprint of a key this agent holds.
    func resolveKey(_ text: String) -> ClusterKey? {
        if let key = try? ClusterKey(base64: text) { return key }
        return keyring.keys.first { $0.fingerprint == text.lowercased() }
    }

    /// Applies `operation` here, then asks every live member to apply it too (Serf's key
    /// rotation), retransmitting to those that have not answered until
    /// `AgentLimits.keyringReplyTimeout`.
    func keyringOperation(_ operation: KeyringCommand.Operation, key: ClusterKey?) async -> KeyringOutcome {
        if let key, let error = applyKeyring(operation, key) { return .refused(error) }
        let selfResult = MemberKeyResult(name: localName, id: identity.nodeID.hex, result: "ok", error: nil,
                                         keys: localFingerprints)
        var targets: [NodeID: (name: String, address: PeerAddress)] = [:]
        for member in membership.members where member.id != identity.nodeID && (member.status == .alive || member.status == .suspect) {
            if let address = member.answeredAddress ?? member.addresses.first { targets[member.id] = (member.name, address) }
        }
        let requestID = random.next()
        let command = KeyringCommand(requestID: requestID, operation: operation, key: key?.bytes ?? [])
        let replies: [NodeID: KeyringReply]
        if targets.isEmpty {
            replies = [:]
        } else {
            replies = await withCheckedContinuation { (continuation: CheckedContinuation<[NodeID: KeyringReply], Never>) in
                keyOperations[requestID] = PendingKeyOperation(command: command, targets: targets, continuation: continuation)
                for (_, target) in targets { sendDatagram(kind: .keyringCommand, body: command.encoded, to: target.address) }
                Task { [weak self] in
                    let deadline = ContinuousClock.now + AgentLimits.keyringReplyTimeout
                    while ContinuousClock.now < deadline {
                        try? await Task.sleep(for: min(AgentLimits.keyringRetransmitInterval, deadline - ContinuousClock.now))
                        guard let self, await self.retransmitKeyringCommand(requestID) else { return }
                    }
                    await self?.finishKeyOperation(requestID)
                }
            }
        }
        var results = [selfResult]
        for (id, target) in targets.sorted(by: { $0.value.name < $1.value.name }) {
            if let reply = replies[id] {
                results.append(MemberKeyResult(name: target.name, id: id.hex, result: reply.error.isEmpty ? "ok" : "error",
                                               error: reply.error.isEmpty ? nil : reply.error, keys: reply.fingerprints))
            } else {
                results.append(MemberKeyResult(name: target.name, id: id.hex, result: "timeout", error: nil, keys: nil))
            }
        }
        return .done(results)
    }

    /// Sends the command again to members that have not answered; false once the operation is over.
    private func retransmitKeyringCommand(_ requestID: UInt64) -> Bool {
        guard let op = keyOperations[requestID] else { return false }
        for (id, target) in op.targets where op.replies[id] == nil {
            sendDatagram(kind: .keyringCommand, body: op.command.encoded, to: target.address)
        }
        return true
    }

    private func finishKeyOperation(_ requestID: UInt64) {
        guard let op = keyOperations.removeValue(forKey: requestID) else { return }
        op.continuation?.resume(returning: op.replies)
    }

    /// Changes the local keyring and saves it; the error text when refused.
    func applyKeyring(_ operation: KeyringCommand.Operation, _ key: ClusterKey) -> String? {
        var ring = keyring
        do {
            switch operation {
            case .list: return nil
            case .install: try ring.install(key)
            case .use: try ring.use(key)
            case .remove: try ring.remove(key)
            }
        } catch {
            return error.description
        }
        guard ring != keyring else { return nil }
        keyring = ring
        logger.info("keyring changed", metadata: ["operation": "\(operation.name)", "key": "\(key.fingerprint)",
                                                  "keys": "\(localFingerprints.joined(separator: ","))"])
        // The file is written (and fsynced) off this actor, in order: a slow disk must not
        // hold up probes and acks, or members would be suspected during a rotation.
        if let store = keyringStore {
            let log = logger, ring = ring
            Self.keyringSaves.async {
                do { try store.save(ring) } catch {
                    log.error("keyring changed in memory but not saved", metadata: ["error": "\(error)"])
                }
            }
        }
        return nil
    }

    /// Saves of the keyring file, one at a time, in the order they were made.
    static let keyringSaves = DispatchQueue(label: "meshd.keyring-saves")

    /// Applies a member's keyring command and answers it (once per request: a retransmitted
    /// command gets the first answer again).
    func handleKeyringCommand(_ frame: Frame, from source: PeerAddress) {
        let command: KeyringCommand
        do { command = try KeyringCommand.decode(frame.body) } catch {
            counters.decodeRejected.record(error.reason)
            return
        }
        let requestKey = KeyRequestID(sender: frame.sender, requestID: command.requestID)
        if let earlier = answeredKeyRequests[requestKey] {
            sendDatagram(kind: .keyringReply, body: earlier.encoded, to: source)
            return
        }
        var error = ""
        if membership.member(frame.sender) == nil {
            error = "not a member of this agent's mesh"
        } else if command.operation != .list, let key = ClusterKey(bytes: command.key) {
            error = applyKeyring(command.operation, key) ?? ""
        }
        let reply = KeyringReply(requestID: command.requestID, error: error, fingerprints: localFingerprints)
        answeredKeyRequests[requestKey] = reply
        answeredKeyRequestOrder.append(requestKey)
        if answeredKeyRequestOrder.count > AgentLimits.rememberedKeyringRequests {
            answeredKeyRequests.removeValue(forKey: answeredKeyRequestOrder.removeFirst())
        }
        sendDatagram(kind: .keyringReply, body: reply.encoded, to: source)
    }

    func handleKeyringReply(_ frame: Frame) {
        let reply: KeyringReply
        do { reply = try KeyringReply.decode(frame.body) } catch {
            counters.decodeRejected.record(error.reason)
            return
        }
        guard var op = keyOperations[reply.requestID], op.targets[frame.sender] != nil,
              op.replies[frame.sender] == nil else { return }
        op.replies[frame.sender] = reply
        if op.complete {
            keyOperations.removeValue(forKey: reply.requestID)
            op.continuation?.resume(returning: op.replies)
        } else {
            keyOperations[reply.requestID] = op
        }
    }
}
