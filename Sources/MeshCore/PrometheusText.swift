/// Writes the Prometheus text exposition format (version 0.0.4): one `# HELP` and
/// `# TYPE` line per family, then its samples, label values escaped. The one writer of
/// every `/metrics` family, the agent's and the node statistics'.
public struct PrometheusText: Sendable {
    /// The metric kinds this agent exposes.
    public enum Kind: String, Sendable { case counter, gauge }

    public private(set) var text = ""
    public init() {}

    /// The content type scrapers expect for this format.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// Adds a family with its samples (labels -> value).
    public mutating func family(_ name: String, _ kind: Kind, help: String,
                                _ samples: [(labels: [(String, String)], value: Double)]) {
        text += "# HELP \(name) \(Self.escapeHelp(help))\n# TYPE \(name) \(kind.rawValue)\n"
        for s in samples { sample(name, s.labels, s.value) }
    }

    /// A family with a single unlabelled sample.
    public mutating func family(_ name: String, _ kind: Kind, help: String, value: Double) {
        family(name, kind, help: help, [(labels: [], value: value)])
    }

    /// A family's `# HELP` and `# TYPE` lines alone; its samples follow with `sample`.
    public mutating func header(_ name: String, _ kind: Kind, help: String) {
        family(name, kind, help: help, [])
    }

    /// One sample of the family whose header was written last.
    public mutating func sample(_ name: String, _ labels: [(String, String)], _ value: Double) {
        text += name
        if !labels.isEmpty {
            text += "{" + labels.map { "\($0.0)=\"\(Self.escapeLabel($0.1))\"" }.joined(separator: ",") + "}"
        }
        text += " \(Self.format(value))\n"
    }

    /// A gauge family with a single unlabelled sample.
    public mutating func gauge(_ name: String, help: String, _ value: Double) {
        family(name, .gauge, help: help, value: value)
    }

    static func format(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return "\(v)"
    }

    static func escapeHelp(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }

    static func escapeLabel(_ s: String) -> String {
        escapeHelp(s).replacingOccurrences(of: "\"", with: "\\\"")
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = Substring(self)
        while let r = rest.firstRange(of: target) {
            out += rest[..<r.lowerBound]; out += replacement; rest = rest[r.upperBound...]
        }
        return out + rest
    }
}
