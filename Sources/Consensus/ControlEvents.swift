import EventLog
import FoundationEssentials
import MeshCore

/// The `control.*` events a leader publishes into the event log, one per applied Raft
/// entry, and the committed entries they stand for: how members that are not voters
/// learn the committed control state (`ControlReplica`). Pure: the agent's publisher and
/// the simulator both use it.
public enum ControlEvents {
    /// The `control.*` event of one applied Raft entry. Every entry has one (commands,
    /// the no-op a new leader appends, configurations), so a member applying them knows
    /// there is no gap between two indexes (`ControlReplica`). A command's event carries
    /// the whole command when it fits an event's 900 bytes of attributes; otherwise the
    /// value is cut to what fits and `value_bytes` gives its length, and a member that
    /// reaches it installs a voter's control state instead (`committedEntry`).
    public static func applied(_ entry: LogEntry, _ command: ControlCommand?, _ result: ControlResult) -> (kind: String, attributes: [String: String])? {
        var attributes = ["index": "\(entry.index)", "term": "\(entry.term)"]
        if case let .refused(why) = result { attributes["refused"] = String(why.prefix(200)) }
        guard entry.kind == .command else {
            let c = try? RaftConfiguration.decode(entry.command)
            attributes["voters"] = String((c?.voters.map(\.description) ?? []).joined(separator: ",").prefix(400))
            attributes["learners"] = "\(c?.learners.count ?? 0)"
            // The voters' whole keys, for members' quorum reads (`QuorumReadTally`), when
            // they fit; a member that lacks them reads through the leader.
            let keys = (c?.voters.map(\.hex) ?? []).joined(separator: ",")
            let room = EventLimits.maxAttributeBytes - attributes.reduce("voter_keys".utf8.count) { $0 + $1.key.utf8.count + $1.value.utf8.count }
            if keys.utf8.count <= room { attributes["voter_keys"] = keys }
            return ("control.voters", attributes)
        }
        guard let command else {
            // The no-op of a new term (Raft §8), or a command that did not decode.
            return (entry.command.isEmpty ? "control.term_started" : "control.undecodable", attributes)
        }
        attributes["requester"] = command.requester
        attributes["via"] = command.via.hex
        switch command.operation {
        case let .setVar(key, value):
            attributes["key"] = key
            let room = EventLimits.maxAttributeBytes - attributes.reduce("value".utf8.count) { $0 + $1.key.utf8.count + $1.value.utf8.count }
            if value.utf8.count <= room {
                attributes["value"] = value
            } else {
                let budget = max(0, room - "value_bytes".utf8.count - 8)
                var cut = Substring(value.prefix(budget))
                while cut.utf8.count > budget { cut = cut.dropLast() }
                attributes["value"] = String(cut)
                attributes["value_bytes"] = "\(value.utf8.count)"
            }
            return ("control.var.set", attributes)
        case let .removeVar(key):
            attributes["key"] = key
            return ("control.var.removed", attributes)
        case let .createToken(name, role, hash):
            attributes["name"] = name; attributes["role"] = role.rawValue; attributes["hash"] = hash
            return ("control.token.created", attributes)
        case let .bootstrapToken(name, hash):
            attributes["name"] = name; attributes["hash"] = hash
            return ("control.token.bootstrap", attributes)
        case let .revokeToken(name):
            attributes["name"] = name
            return ("control.token.revoked", attributes)
        case let .banMember(id):
            attributes["member"] = id.hex
            return ("control.member.banned", attributes)
        case let .workload(c):
            return ("control.workload." + c.verb, workloadAttributes(c, command, attributes))
        }
    }

    /// A workload command's event: the whole encoded command in `command` (base64) when it
    /// fits, else `command_bytes` (a member then installs a voter's state); then what a
    /// reader wants (`workload`, the plan's `placed` and `stopped`), cut to what fits.
    static func workloadAttributes(_ c: WorkloadCommand, _ command: ControlCommand, _ base: [String: String]) -> [String: String] {
        var attributes = base
        attributes.removeValue(forKey: "via")    // inside the encoded command
        func room() -> Int { EventLimits.maxAttributeBytes - attributes.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count } }
        func add(_ key: String, _ value: String) {
            let budget = room() - key.utf8.count
            guard budget > 0 else { return }
            var cut = Substring(value.prefix(budget))
            while cut.utf8.count > budget { cut = cut.dropLast() }
            attributes[key] = String(cut)
        }
        if let name = c.workloadName { attributes["workload"] = name }
        let encoded = Data(command.encoded).base64EncodedString()
        if encoded.utf8.count + "command".utf8.count <= room() {
            attributes["command"] = encoded
        } else {
            attributes["command_bytes"] = "\(command.encoded.count)"
        }
        switch c {
        case let .scale(_, count): add("count", "\(count)")
        case let .applyPlan(plan):
            add("stopped", plan.stops.map { "\($0.placement): \($0.reason)" }.joined(separator: "; "))
            add("placed", plan.places.map { "\($0.slot)@\($0.node)" + ($0.replaces.map { " replacing \($0)" } ?? "") }.joined(separator: ", "))
        case let .crashLoop(p, _): add("placement", "\(p)")
        case let .restarted(p, g): add("placement", "\(p)"); add("generation", "\(g)")
        case let .released(p, reason): add("placement", "\(p)"); add("reason", reason)
        case let .running(p, _): add("placement", "\(p)")
        case .submit, .stop, .remove, .restart: break
        }
        return attributes
    }

    /// The committed entry a `control.*` event stands for (the inverse of `applied`), nil
    /// for an event that is not one. The command is rebuilt from the attributes; `via`,
    /// which changes nothing in the state, falls back to the event's origin.
    public static func committedEntry(_ event: Event) -> CommittedEntry? {
        let a = event.attributes
        guard event.kind.hasPrefix("control."), let index = a["index"].flatMap(UInt64.init), index > 0,
              let term = a["term"].flatMap(UInt64.init) else { return nil }
        func entry(_ kind: LogEntryKind = .command, _ command: [UInt8] = []) -> LogEntry {
            LogEntry(term: Term(term), index: LogIndex(index), kind: kind, command: command)
        }
        let via = a["via"].flatMap { Hex.decode($0) }.flatMap { NodeID(publicKey: $0) } ?? event.origin
        let requester = a["requester"] ?? ""
        switch event.kind {
        case "control.voters":
            // Only the voters travel (learners do not matter to a member's reads); without
            // whole keys the entry applies with a configuration the replica cannot decode.
            let voters = a["voter_keys"].map { $0.split(separator: ",").compactMap { Hex.decode(String($0)).flatMap(NodeID.init(publicKey:)) } }
            guard let voters, !voters.isEmpty, voters.count == a["voter_keys"]!.split(separator: ",").count else {
                return CommittedEntry(entry(.configuration))
            }
            return CommittedEntry(entry(.configuration, RaftConfiguration(voters: voters).encoded))
        case "control.term_started", "control.undecodable": return CommittedEntry(entry())
        case "control.var.set":
            guard let key = a["key"], let value = a["value"] else { return nil }
            let command = ControlCommand(.setVar(key: key, value: value), requester: requester, via: via).encoded
            return CommittedEntry(entry(.command, command), complete: a["value_bytes"] == nil)
        case "control.var.removed":
            guard let key = a["key"] else { return nil }
            return CommittedEntry(entry(.command, ControlCommand(.removeVar(key: key), requester: requester, via: via).encoded))
        case "control.token.created":
            guard let name = a["name"], let role = a["role"].flatMap(TokenRole.init(rawValue:)), let hash = a["hash"] else { return nil }
            return CommittedEntry(entry(.command, ControlCommand(.createToken(name: name, role: role, hash: hash), requester: requester, via: via).encoded))
        case "control.token.bootstrap":
            guard let name = a["name"], let hash = a["hash"] else { return nil }
            return CommittedEntry(entry(.command, ControlCommand(.bootstrapToken(name: name, hash: hash), requester: requester, via: via).encoded))
        case "control.token.revoked":
            guard let name = a["name"] else { return nil }
            return CommittedEntry(entry(.command, ControlCommand(.revokeToken(name: name), requester: requester, via: via).encoded))
        case "control.member.banned":
            guard let id = a["member"].flatMap({ Hex.decode($0) }).flatMap({ NodeID(publicKey: $0) }) else { return nil }
            return CommittedEntry(entry(.command, ControlCommand(.banMember(id: id), requester: requester, via: via).encoded))
        case let kind where kind.hasPrefix("control.workload."):
            if a["command_bytes"] != nil { return CommittedEntry(entry(), complete: false) }
            guard let text = a["command"], let bytes = Data(base64Encoded: text) else { return nil }
            return CommittedEntry(entry(.command, Array(bytes)))
        default: return nil
        }
    }
}
