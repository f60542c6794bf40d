import Consensus
import Membership
import MeshCore

/// The events the agent records about itself, by kind. Kinds are dotted names; the
/// attributes are what an operator needs to read the line on its own.
enum AgentEvents {
    static func memberChange(_ c: MemberChange) -> (kind: String, attributes: [String: String]) {
        var attributes = ["member": c.name, "id": c.id.hex, "incarnation": "\(c.incarnation)"]
        if let by = c.by { attributes["by"] = by.hex }
        let kind = switch c.kind {
        case .joined: "member.joined"
        case .updated: "member.updated"
        case .suspected: "member.suspect"
        case .refuted: "member.alive"
        case .dead: "member.dead"
        case .left: "member.left"
        case .reaped: "member.reaped"
        }
        return (kind, attributes)
    }

    static func applied(_ entry: LogEntry, _ command: ControlCommand?, _ result: ControlResult) -> (kind: String, attributes: [String: String])? {
        guard let command else { return nil }
        var attributes = ["index": "\(entry.index)", "term": "\(entry.term)", "requester": command.requester, "via": command.via.hex]
        if case let .refused(why) = result { attributes["refused"] = why }
        switch command.operation {
        case let .setVar(key, value):
            attributes["key"] = key
            attributes["value"] = String(value.prefix(256))
            return ("control.var.set", attributes)
        case let .removeVar(key):
            attributes["key"] = key
            return ("control.var.removed", attributes)
        }
    }
}
