/// Per-instance arguments and environment values: `{{instance}}` (the instance number),
/// `{{node}}` (the node's name), `{{name}}` (`workload.instance`), `{{peers}}` (the mesh
/// addresses of the workload's other instances, comma-separated, so peer-to-peer programs
/// find each other) and `{{var:KEY}}` (the mesh-wide variable KEY as the node's replica holds
/// it when the instance starts; empty when it is not set).
public enum Template {
    public static let variables: Set<String> = ["instance", "node", "name", "peers"]
    /// `{{var:KEY}}`: a mesh-wide variable (`meshctl var set`).
    public static let varPrefix = "var:"
    /// The longest KEY a `{{var:KEY}}` may name (the control state's own limit on keys).
    public static let maxVarKeyBytes = 256

    public struct Context: Sendable, Equatable {
        public var instance: Int
        public var node: String
        public var workload: String
        public var peers: [String]
        /// The mesh-wide variables, by key.
        public var vars: [String: String]
        public init(instance: Int, node: String, workload: String, peers: [String], vars: [String: String] = [:]) {
            self.instance = instance; self.node = node; self.workload = workload; self.peers = peers; self.vars = vars
        }
    }

    /// Refuses unknown variables and unclosed `{{`.
    public static func check(_ argument: String) throws(SpecError) {
        var rest = Substring(argument)
        while let open = rest.firstRange(of: "{{") {
            guard let close = rest[open.upperBound...].firstRange(of: "}}") else { throw .unclosedTemplate(argument) }
            let name = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: " ")
            guard variables.contains(name) || isVarReference(name) else { throw .unknownTemplateVariable(name) }
            rest = rest[close.upperBound...]
        }
    }

    /// `var:KEY` with a KEY the control state could hold (not empty, no `{`, `}` or space).
    static func isVarReference(_ name: String) -> Bool {
        guard name.hasPrefix(varPrefix) else { return false }
        let key = name.dropFirst(varPrefix.count)
        return !key.isEmpty && key.utf8.count <= maxVarKeyBytes && !key.contains { $0 == "{" || $0 == "}" || $0 == " " }
    }

    /// The argument with every variable replaced (the spec was checked at submission).
    public static func expand(_ argument: String, _ c: Context) -> String {
        var out = ""
        var rest = Substring(argument)
        while let open = rest.firstRange(of: "{{"), let close = rest[open.upperBound...].firstRange(of: "}}") {
            out += rest[..<open.lowerBound]
            switch rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: " ") {
            case "instance": out += String(c.instance)
            case "node": out += c.node
            case "name": out += "\(c.workload).\(c.instance)"
            case "peers": out += c.peers.joined(separator: ",")
            case let other where isVarReference(other): out += c.vars[String(other.dropFirst(varPrefix.count))] ?? ""
            case let other: out += "{{\(other)}}"
            }
            rest = rest[close.upperBound...]
        }
        return out + rest
    }
}

extension Substring {
    func trimmingCharacters(in set: Character) -> String {
        String(drop { $0 == set }.reversed().drop { $0 == set }.reversed())
    }
}
