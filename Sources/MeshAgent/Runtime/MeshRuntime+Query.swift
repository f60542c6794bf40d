import Foundation
import MeshCore
import MeshWire
import Membership

/// Request/reply between two agents about their nodes (`NodeQuery`): one sealed, signed
/// frame each way over a TCP exchange on the mesh port.
extension MeshRuntime {
    /// A member that can be asked: alive or suspect, with an address.
    struct QueryTarget: Sendable {
        var id: NodeID
        var name: String
        var address: PeerAddress
    }

    /// Every other live member, by name.
    func queryTargets() -> [QueryTarget] {
        membership.members.compactMap { m in
            guard m.id != identity.nodeID, m.status == .alive || m.status == .suspect,
                  let address = m.answeredAddress ?? m.addresses.first else { return nil }
            return QueryTarget(id: m.id, name: m.name, address: address)
        }.sorted { $0.name < $1.name }
    }

    var localNodeID: NodeID { identity.nodeID }

    /// Asks one member and waits (at most `timeout`) for its answer.
    func ask(_ target: QueryTarget, _ query: NodeQuery, timeout: Duration = AgentLimits.nodeQueryTimeout) async throws(NodeQueryError) -> NodeReply {
        guard let frame = sealStream(kind: .nodeQuery, body: query.encoded) else {
            throw .refused("the question to \(target.name) does not fit in a frame")
        }
        let bytes: [UInt8]
        do {
            bytes = try await StreamTransport.exchange(frame, to: target.address.socketAddress, group: group, timeout: timeout)
        } catch {
            throw .unreachable(target.name, reason: "\(error)")
        }
        counters.bytesInStream &+= UInt64(bytes.count)
        let reply: Frame
        do { reply = try streamOpener.open(bytes, keyring: keyring, channel: .stream) } catch {
            throw .badReply(target.name, reason: "\(error)")
        }
        if bans.contains(reply.sender) {
            counters.bannedFrames &+= 1
            throw .badReply(target.name, reason: "the node is banned")
        }
        guard reply.kind == .nodeReply, reply.sender == target.id else {
            throw .badReply(target.name, reason: "a \(reply.kind) frame from \(reply.sender)")
        }
        do { return try JSONDecoder().decode(NodeReply.self, from: Data(reply.body)) } catch {
            throw .badReply(target.name, reason: "\(error)")
        }
    }

    /// Asks every other live member at once, at most `AgentLimits.maxNodeQueryFanOut` in
    /// flight; each answer or failure is returned, none dropped.
    func askAll(_ query: NodeQuery, timeout: Duration = AgentLimits.nodeQueryTimeout) async -> [(QueryTarget, Result<NodeReply, NodeQueryError>)] {
        let targets = queryTargets()
        return await withTaskGroup(of: (QueryTarget, Result<NodeReply, NodeQueryError>).self) { group in
            var out: [(QueryTarget, Result<NodeReply, NodeQueryError>)] = []
            var pending = targets[...]
            func launch() {
                guard let target = pending.popFirst() else { return }
                group.addTask {
                    do throws(NodeQueryError) { return (target, .success(try await self.ask(target, query, timeout: timeout))) } catch {
                        return (target, .failure(error))
                    }
                }
            }
            for _ in 0 ..< AgentLimits.maxNodeQueryFanOut { launch() }
            for await answer in group {
                out.append(answer)
                launch()
            }
            return out.sorted { $0.0.name < $1.0.name }
        }
    }

    /// Answers a member's question through `nodeQueryHandler`; nil closes unanswered.
    func answerNodeQuery(_ frame: Frame) async -> [UInt8]? {
        guard let handler = nodeQueryHandler else { counters.misroutedFrames &+= 1; return nil }
        guard let query = NodeQuery.decode(frame.body) else {
            counters.decodeRejected.record(.malformed)
            return nil
        }
        let reply = await handler(query, frame.sender)
        return sealStream(kind: .nodeReply, body: reply.encoded)
    }

    func setNodeQueryHandler(_ handler: @escaping @Sendable (NodeQuery, NodeID) async -> NodeReply) {
        nodeQueryHandler = handler
    }

    /// Puts `values` into this member's metadata resources (nil removes a key) and
    /// disseminates the change, unless nothing changed or the metadata would pass
    /// `maxMetadataBytes` (then false, and nothing changes).
    @discardableResult
    func advertise(resources values: [String: String?]) -> Bool {
        var next = metadata
        for (key, value) in values { next.resources[key] = value }
        guard next != metadata else { return true }
        guard next.encodedSize <= settings.maxMetadataBytes else { return false }
        metadata = next
        publishMetadata()
        return true
    }
}
