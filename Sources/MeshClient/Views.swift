import Foundation
import MeshAPI

/// How meshctl shows each answer in its human form: pure functions of the answer and the
/// `OutputStyle`, so Tests/MeshAPITests/GoldenTests.swift pins them with golden files.
public enum Views {
    /// Characters of a member's id in `meshctl members` (the whole id is in `--json`; any
    /// unique prefix names a member).
    public static let shortIDLength = 8

    public static func members(_ members: [MemberInfo], style: OutputStyle = .plain) -> String {
        var t = TextTable(["name", "id", "address", "status", "inc", "role", "tags", "rtt"], flexible: [6])
        t.colours = [3: { TerminalColour.of(state: $0) }]
        for m in members {
            t.add([m.name + (m.isSelf ? " *" : ""), String(m.id.prefix(shortIDLength)), m.address, m.status, "\(m.incarnation)", m.role,
                   m.tags.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","),
                   m.rttMs.map(milliseconds) ?? "-"])
        }
        return t.render(style)
    }

    public static func status(_ s: StatusInfo, style: OutputStyle = .plain) -> String {
        var kv = KeyValueList()
        kv.add("node", "\(s.name) (\(s.id.prefix(16)))")
        kv.add("address", s.addresses.joined(separator: ", "))
        kv.add("api", s.apiAddress)
        kv.add("profile", s.profile)
        kv.add("members", ["alive", "suspect", "dead", "left"].map { "\($0) \(s.members[$0] ?? 0)" }.joined(separator: ", "))
        kv.add("leader", s.leader ?? "none (\(s.consensus))")
        kv.add("term", s.term.map { "\($0)" } ?? "-")
        if let health = s.voterHealth {
            kv.add("voters", health.map { "\($0.name) \($0.status)\($0.leader ? " (leader)" : "")" }.joined(separator: ", "))
        } else {
            kv.add("voters", s.voters.map { $0.joined(separator: ", ") } ?? "-")
        }
        kv.add("quorum", s.quorumReachable.map { $0 ? "reachable" : "not reachable" } ?? "-",
               colour: s.quorumReachable.map { $0 ? .green : .red })
        kv.add("commit", s.commitIndex.map { "\($0) (applied \(s.appliedIndex ?? 0), lag \(s.lagEntries ?? 0))" } ?? "-")
        kv.add("consensus", s.consensus)
        kv.add("uptime", seconds(s.uptimeSeconds))
        if s.leaving { kv.add("state", "leaving the mesh", colour: .yellow) }
        return kv.render(style)
    }

    public static func keyOperation(_ r: KeyOperationResult, style: OutputStyle = .plain) -> String {
        var t = TextTable(["name", "result", "keys", "detail"], flexible: [2, 3])
        t.colours = [1: { TerminalColour.of(state: $0) }]
        for m in r.members { t.add([m.name, m.result, (m.keys ?? []).joined(separator: ","), m.error ?? ""]) }
        let ok = r.members.filter { $0.result == "ok" }.count
        return "\(r.operation) \(r.key): \(ok)/\(r.members.count) members ok\n" + t.render(style)
    }

    public static func keyring(_ k: KeyringInfo, style: OutputStyle = .plain) -> String {
        var t = TextTable(["key", "primary on", "installed on", "here"])
        for key in k.keys {
            t.add([key.fingerprint, "\(key.primary)/\(k.total)", "\(key.installed)/\(k.total)",
                   k.local.first == key.fingerprint ? "primary" : (k.local.contains(key.fingerprint) ? "yes" : "no")])
        }
        let missing = k.members.filter { $0.result != "ok" }
        var out = t.render(style)
        if !missing.isEmpty {
            out += "no answer from: " + missing.map { "\($0.name) (\($0.result))" }.joined(separator: ", ") + "\n"
        }
        return out
    }

    /// `meshctl events`: one row per event, attributes sorted by key.
    public static func events(_ events: [EventInfo], style: OutputStyle = .plain) -> String {
        var t = TextTable(["time", "node", "kind", "attributes"], flexible: [3])
        t.colours = [2: { TerminalColour.of(eventKind: $0) }]
        for e in events { t.add([e.time, e.node, e.kind, eventAttributes(e)]) }
        return t.render(style)
    }

    /// `meshctl events -f`: one line per event as it arrives (no table: widths are unknown
    /// ahead; the line is whole, for grep).
    public static func eventLine(_ e: EventInfo, style: OutputStyle = .plain) -> String {
        "\(e.time)  \(e.node)  \(style.paint(e.kind, TerminalColour.of(eventKind: e.kind)))  \(eventAttributes(e))\n"
    }

    static func eventAttributes(_ e: EventInfo) -> String {
        e.attributes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }

    /// `meshctl var ls`.
    public static func vars(_ r: VarsResponse, style: OutputStyle = .plain) -> String {
        var t = TextTable(["key", "value", "index"], flexible: [1])
        for v in r.vars { t.add([v.key, v.value, "\(v.index)"]) }
        return t.render(style) + (r.stale ? "(stale read of this agent's replica at index \(r.appliedIndex), \(r.lagEntries ?? 0) behind, last applied \(format1(r.appliedAgeSeconds ?? 0)) s ago)\n" : "")
    }

    /// `meshctl token list`: names, roles, indexes (the API never has secrets).
    public static func tokens(_ tokens: [TokenInfo], style: OutputStyle = .plain) -> String {
        var t = TextTable(["name", "role", "index"])
        for token in tokens { t.add([token.name, token.role, "\(token.index)"]) }
        return t.render(style)
    }

    /// `meshctl why`: the placement, what moved it, pending reasons, then every node's verdict.
    public static func why(_ w: WhyInfo, style: OutputStyle = .plain) -> String {
        var out = ""
        if let p = w.placement { out += "\(w.workload).\(p.instance) runs on \(p.node) as \(p.placement) (generation \(p.generation))\n" }
        if let move = w.lastMove { out += "last moved: \(move)\n" }
        for p in w.pending { out += "\(w.workload).\(p.instance) pending: \(p.reason)\n" }
        var t = TextTable(["node", "verdict", "score", "instances"], flexible: [1])
        t.colours = [1: { $0 == "candidate" ? .green : $0.hasPrefix("excluded") ? .dim : nil }]
        for c in w.candidates {
            t.add([c.node, c.excluded.map { "excluded: \($0)" } ?? "candidate", c.score.map { String(format: "%.3f", $0) } ?? "-", "\(c.instances)"])
        }
        return out + t.render(style)
    }

    public static func rtt(_ r: RTTInfo) -> String { "\(r.a) <-> \(r.b): \(milliseconds(r.rttMs)) (estimated from network coordinates)\n" }

    static func milliseconds(_ ms: Double) -> String {
        ms < 10 ? String(format3(ms)) + "ms" : "\(Int(ms.rounded()))ms"
    }

    static func format3(_ v: Double) -> String {
        let scaled = (v * 1000).rounded() / 1000
        return "\(scaled)"
    }

    static func seconds(_ s: Double) -> String {
        let total = Int(s)
        if total < 60 { return "\(total)s" }
        if total < 3600 { return "\(total / 60)m\(total % 60)s" }
        return "\(total / 3600)h\((total % 3600) / 60)m"
    }
}
