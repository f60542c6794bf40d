/// A condition a node must meet to run a workload's instances.
///
/// The attribute is `name` (the node's name), `arch` (its machine architecture, e.g.
/// `aarch64`, `x86_64`), or the key of one of its tags. Written `KEY=VALUE`,
/// `KEY!=VALUE` or `KEY in A,B,C` (`meshctl run --constraint`).
public struct Constraint: Sendable, Hashable, CustomStringConvertible {
    public enum Operator: Sendable, Hashable {
        case equals(String)
        case notEquals(String)
        case inSet([String])
    }

    public var attribute: String
    public var op: Operator

    public init(_ attribute: String, _ op: Operator) { self.attribute = attribute; self.op = op }

    /// Whether `node` meets it. A tag the node lacks equals nothing, so `!=` holds there.
    public func holds(on node: SchedulerNode) -> Bool {
        let value = node.attribute(attribute)
        switch op {
        case let .equals(v): return value == v
        case let .notEquals(v): return value != v
        case let .inSet(vs): return value.map(vs.contains) ?? false
        }
    }

    public var description: String {
        switch op {
        case let .equals(v): "\(attribute)=\(v)"
        case let .notEquals(v): "\(attribute)!=\(v)"
        case let .inSet(vs): "\(attribute) in \(vs.joined(separator: ","))"
        }
    }

    /// Parses `KEY=VALUE`, `KEY!=VALUE` or `KEY in A,B`.
    public static func parse(_ text: String) throws(SpecError) -> Constraint {
        let words = text.split(separator: " ", omittingEmptySubsequences: true)
        if words.count == 3, words[1] == "in" {
            let values = words[2].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard !values.isEmpty, values.allSatisfy({ !$0.isEmpty }) else { throw .badConstraint(text) }
            return try checked(Constraint(String(words[0]), .inSet(values)), text)
        }
        if let r = text.firstRange(of: "!=") {
            return try checked(Constraint(String(text[..<r.lowerBound]), .notEquals(String(text[r.upperBound...]))), text)
        }
        if let r = text.firstRange(of: "=") {
            return try checked(Constraint(String(text[..<r.lowerBound]), .equals(String(text[r.upperBound...]))), text)
        }
        throw .badConstraint(text)
    }

    private static func checked(_ c: Constraint, _ text: String) throws(SpecError) -> Constraint {
        guard SchedulerNode.isValidAttribute(c.attribute) else { throw .badConstraint(text) }
        if case let .equals(v) = c.op, v.isEmpty { throw .badConstraint(text) }
        if case let .notEquals(v) = c.op, v.isEmpty { throw .badConstraint(text) }
        return c
    }
}
