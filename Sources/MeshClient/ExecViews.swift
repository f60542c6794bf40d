import MeshAPI

/// How meshctl shows a fan-out (`meshctl exec --all`).
extension Views {
    /// One table: node, status, exit, seconds, output; a node's further output lines (stdout,
    /// then stderr) are rows of their own under it, with the other columns empty.
    public static func execResults(_ rows: [ExecNodeResult]) -> String {
        var t = TextTable(["node", "status", "exit", "seconds", "output"])
        for r in rows {
            let exit = r.exitCode.map { "\($0)" } ?? r.signal.map { "signal \($0)" } ?? "-"
            var lines = (r.stdout + r.stderr).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            if lines.last == "" { lines.removeLast() }
            if r.truncated { lines.append("(output truncated)") }
            if let detail = r.detail { lines.append(detail) }
            t.add([r.node, r.status, exit, r.seconds.map { format1($0) } ?? "-", lines.first ?? ""])
            for line in lines.dropFirst() { t.add(["", "", "", "", line]) }
        }
        return t.rendered
    }
}
