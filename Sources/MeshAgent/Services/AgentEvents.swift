import Consensus
import EventLog
import Foundation
import Membership
import MeshCore
import MeshWire

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

    /// Whether this node records a change about `subject`: only when it is the subject's
    /// successor, in id order around the ring, among the members it sees alive (the subject
    /// left out, this node always in). Every observer sees every change, so recording each
    /// everywhere wrote N events per change into the replicated log, N² for N agents
    /// joining, which at 50 agents buried user events behind thousands of `member.*` ones.
    /// Observers whose views differ for a moment may both record a change; none is left
    /// without one as long as the views agree on who is alive.
    static func records(_ subject: NodeID, me: NodeID, alive: [NodeID]) -> Bool {
        let others = Set(alive + [me]).subtracting([subject]).sorted()
        guard let first = others.first else { return true }
        return (others.first { $0 > subject } ?? first) == me
    }
}

extension AgentEvents {
    /// `agent.raft_storage_reset`: Raft's storage was damaged at start, kept aside, and
    /// this node started empty and abstaining.
    static func raftStorageReset(reason: String, keptAt: String) -> (kind: String, attributes: [String: String]) {
        ("agent.raft_storage_reset", ["reason": String(reason.prefix(512)), "kept": keptAt, "abstaining": "true"])
    }

    /// The `agent.frames_rejected` summary: frames refused since the previous summary, by
    /// reason (`reason=count` attributes, plus `total` and `interval_s`); nil when none were.
    static func rejectedFrames(now current: [String: UInt64], previous: [String: UInt64],
                               intervalSeconds: Int) -> (kind: String, attributes: [String: String])? {
        var attributes: [String: String] = [:]
        var total: UInt64 = 0
        for (reason, count) in current {
            let before = previous[reason] ?? 0
            guard count > before else { continue }
            let delta = count - before
            attributes[reason] = "\(delta)"
            total += delta
        }
        guard total > 0 else { return nil }
        attributes["total"] = "\(total)"
        attributes["interval_s"] = "\(intervalSeconds)"
        return ("agent.frames_rejected", attributes)
    }
}

extension MeshRuntime {
    /// Frames refused so far, by reason (as `meshd_frames_rejected_total` counts them):
    /// datagrams and stream frames that did not open, bodies that did not decode, and
    /// frames on the wrong channel.
    func rejectedFrameCounts() -> [String: UInt64] {
        var out: [String: UInt64] = [:]
        var decodeRejected = counters.decodeRejected
        decodeRejected.add(servicesDecodeRejected)
        for reason in RejectReason.allCases {
            let n = datagramOpener.rejected[reason] &+ streamOpener.rejected[reason] &+ decodeRejected[reason]
            if n > 0 { out[reason.rawValue] = n }
        }
        if counters.misroutedFrames > 0 { out["misrouted"] = counters.misroutedFrames }
        return out
    }
}
