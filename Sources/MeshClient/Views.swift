import MeshAPI

/// How meshctl shows each answer in its human form.
public enum Views {
    public static func members(_ members: [MemberInfo]) -> String {
        var t = TextTable(["name", "id", "address", "status", "incarnation", "role", "tags", "rtt"])
        for m in members {
            t.add([m.name + (m.isSelf ? " *" : ""), String(m.id.prefix(16)), m.address, m.status, "\(m.incarnation)", m.role,
                   m.tags.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","),
                   m.rttMs.map(milliseconds) ?? "-"])
        }
        return t.rendered
    }

    public static func status(_ s: StatusInfo) -> String {
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
        kv.add("quorum", s.quorumReachable.map { $0 ? "reachable" : "not reachable" } ?? "-")
        kv.add("commit", s.commitIndex.map { "\($0) (applied \(s.appliedIndex ?? 0), lag \(s.lagEntries ?? 0))" } ?? "-")
        kv.add("consensus", s.consensus)
        kv.add("uptime", seconds(s.uptimeSeconds))
        if s.leaving { kv.add("state", "leaving the mesh") }
        return kv.rendered
    }

    public static func keyOperation(_ r: KeyOperationResult) -> String {
        var t = TextTable(["name", "result", "keys", "detail"])
        for m in r.members { t.add([m.name, m.result, (m.keys ?? []).joined(separator: ","), m.error ?? ""]) }
        let ok = r.members.filter { $0.result == "ok" }.count
        return "\(r.operation) \(r.key): \(ok)/\(r.members.count) members ok\n" + t.rendered
    }

    public static func keyring(_ k: KeyringInfo) -> String {
        var t = TextTable(["key", "primary on", "installed on", "here"])
        for key in k.keys {
            t.add([key.fingerprint, "\(key.primary)/\(k.total)", "\(key.installed)/\(k.total)",
                   k.local.first == key.fingerprint ? "primary" : (k.local.contains(key.fingerprint) ? "yes" : "no")])
        }
        let missing = k.members.filter { $0.result != "ok" }
        var out = t.rendered
        if !missing.isEmpty {
            out += "no answer from: " + missing.map { "\($0.name) (\($0.result))" }.joined(separator: ", ") + "\n"
        }
        return out
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
