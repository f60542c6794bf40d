/// Per-instance arguments: `{{instance}}` (the instance number), `{{node}}` (the node's
/// name), `{{name}}` (`workload.instance`) and `{{peers}}` (the mesh addresses of the
/// workload's other instances, comma-separated, so peer-to-peer programs find each other).
public enum Template {
    public static let variables: Set<String> = ["instance", "node", "name", "peers"]

    public struct Context: Sendable, Equatable {
        public var instance: Int
        public var node: String
        public var workload: String
        public var peers: [String]
        public init(instance: Int, node: String, workload: String, peers: [String]) {
            self.instance = instance; self.node = node; self.workload = workload; self.peers = peers
        }
    }

    /// Refuses unknown variables and unclosed `{{`.
    public static func check(_ argument: String) throws(SpecError) {
        var rest = Substring(argument)
        while let open = rest.firstRange(of: "{{") {
            guard let close = rest[open.upperBound...].firstRange(of: "}}") else { throw .unclosedTemplate(argument) }
            let name = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: " ")
            guard variables.contains(name) else { throw .unknownTemplateVariable(name) }
            rest = rest[close.upperBound...]
        }
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
