import MeshCore
import MeshWire
import Scheduler

/// A command to the replicated control state, with who asked (recorded in the event log).
public struct ControlCommand: Sendable, Equatable {
    public enum Operation: Sendable, Equatable {
        case setVar(key: String, value: String)
        case removeVar(key: String)
        /// A new API token: its name, role and the hash of its secret.
        case createToken(name: String, role: TokenRole, hash: String)
        /// The first admin token; refused when the mesh already has a token.
        case bootstrapToken(name: String, hash: String)
        case revokeToken(name: String)
        /// Refuse a node's frames everywhere (its Ed25519 key), for good: a stolen Pi.
        case banMember(id: NodeID)
        /// The scheduler's commands (`WorkloadState`).
        case workload(WorkloadCommand)
    }
    public var operation: Operation
    /// Who asked: the API token's name or `local`, and the node that accepted the request.
    public var requester: String
    public var via: NodeID

    public init(_ operation: Operation, requester: String, via: NodeID) {
        self.operation = operation; self.requester = requester; self.via = via
    }

    public var encoded: [UInt8] {
        var w = ByteWriter()
        switch operation {
        case let .setVar(k, v): w.write(UInt8(1)); w.write(k); w.write(v)
        case let .removeVar(k): w.write(UInt8(2)); w.write(k)
        case let .createToken(n, role, h): w.write(UInt8(20)); w.write(n); w.write(role.rawValue); w.write(h)
        case let .bootstrapToken(n, h): w.write(UInt8(21)); w.write(n); w.write(h)
        case let .revokeToken(n): w.write(UInt8(22)); w.write(n)
        case let .banMember(id): w.write(UInt8(30)); w.write(id)
        case let .workload(c): w.write(UInt8(3)); c.encode(into: &w)
        }
        w.write(requester); w.write(via)
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(WireError) -> ControlCommand {
        var r = ByteReader(bytes)
        let op: Operation
        switch try r.readUInt8() {
        case 1: op = .setVar(key: try r.readString(limit: ControlLimits.maxVarKeyBytes), value: try r.readString(limit: ControlLimits.maxVarValueBytes))
        case 2: op = .removeVar(key: try r.readString(limit: ControlLimits.maxVarKeyBytes))
        case 20:
            let name = try r.readString(limit: TokenLimits.maxNameBytes), roleText = try r.readString(limit: 16)
            guard let role = TokenRole(rawValue: roleText) else { throw .malformed("token role \(roleText)") }
            op = .createToken(name: name, role: role, hash: try r.readString(limit: TokenLimits.hashHexDigits))
        case 21: op = .bootstrapToken(name: try r.readString(limit: TokenLimits.maxNameBytes), hash: try r.readString(limit: TokenLimits.hashHexDigits))
        case 22: op = .revokeToken(name: try r.readString(limit: TokenLimits.maxNameBytes))
        case 30: op = .banMember(id: try r.readNodeID())
        case 3: op = .workload(try WorkloadCommand.decode(from: &r))
        case let t: throw .malformed("control command tag \(t)")
        }
        let c = ControlCommand(op, requester: try r.readString(limit: 256), via: try r.readNodeID())
        try r.expectEnd()
        return c
    }
}

/// Limits of the replicated control state.
public enum ControlLimits {
    public static let maxVarKeyBytes = 256
    public static let maxVarValueBytes = 64 * 1024
    public static let maxVars = 10_000
    /// Banned nodes the state holds (each refused by every agent's frame check).
    public static let maxBans = 10_000
}

/// A mesh-wide variable as applied.
public struct VarEntry: Sendable, Equatable {
    public var value: String
    /// The log index that last set it (a version, for compare-and-set later).
    public var index: LogIndex
}

/// The outcome of applying one command.
public enum ControlResult: Sendable, Equatable {
    case ok
    case refused(String)
}

/// The replicated state the leader manages: mesh-wide variables, API tokens (hashes), and
/// the scheduler's workload specs and placements (`WorkloadState`). Applied in log order on every node, so every
/// replica holds the same values at the same index.
public struct ControlState: Sendable, Equatable {
    public private(set) var vars: [String: VarEntry] = [:]
    /// API tokens by name (hashes only; the secrets are never in the state).
    public private(set) var tokens: [String: TokenEntry] = [:]
    /// Nodes whose frames every agent refuses, with the index that banned them.
    public private(set) var banned: [NodeID: LogIndex] = [:]
    public private(set) var workloads = WorkloadState()
    public private(set) var appliedIndex = LogIndex.zero

    public init() {}

    /// The state's encoding for a Raft snapshot (variables in key order, so equal states
    /// encode to equal bytes).
    public var snapshot: [UInt8] {
        var w = ByteWriter()
        w.write(appliedIndex.value)
        w.writeList(vars.keys.sorted()) { w, key in
            let v = vars[key]!
            w.write(key); w.write(v.value); w.write(v.index.value)
        }
        // Tokens follow the variables; a snapshot written before tokens existed ends here.
        w.writeList(tokens.keys.sorted()) { w, name in
            let t = tokens[name]!
            w.write(name); w.write(t.role.rawValue); w.write(t.hash); w.write(t.index.value)
        }
        // Workloads follow the tokens, bans the workloads; a snapshot written before a
        // section existed ends before it.
        workloads.encode(into: &w)
        w.writeList(banned.keys.sorted()) { w, id in w.write(id); w.write(banned[id]!.value) }
        // The placements' process start times follow the bans.
        workloads.encodeStartTimes(into: &w)
        return w.bytes
    }

    /// Restores the state from a snapshot's data.
    public init(snapshot bytes: [UInt8]) throws(WireError) {
        var r = ByteReader(bytes)
        appliedIndex = LogIndex(try r.readUInt64())
        let entries = try r.readList(limit: ControlLimits.maxVars, minElementBytes: 12) { (r: inout ByteReader) throws(WireError) in
            (try r.readString(limit: ControlLimits.maxVarKeyBytes),
             VarEntry(value: try r.readString(limit: ControlLimits.maxVarValueBytes), index: LogIndex(try r.readUInt64())))
        }
        vars = Dictionary(entries, uniquingKeysWith: { _, last in last })
        if !r.isAtEnd {
            let list = try r.readList(limit: TokenLimits.maxTokens, minElementBytes: 16) { (r: inout ByteReader) throws(WireError) -> TokenEntry in
                let name = try r.readString(limit: TokenLimits.maxNameBytes), roleText = try r.readString(limit: 16)
                guard let role = TokenRole(rawValue: roleText) else { throw .malformed("token role \(roleText)") }
                return TokenEntry(name: name, role: role, hash: try r.readString(limit: TokenLimits.hashHexDigits),
                                  index: LogIndex(try r.readUInt64()))
            }
            tokens = Dictionary(list.map { ($0.name, $0) }, uniquingKeysWith: { _, last in last })
        }
        if !r.isAtEnd { workloads = try WorkloadState(decoding: &r) }
        if !r.isAtEnd {
            let list = try r.readList(limit: ControlLimits.maxBans, minElementBytes: 40) { (r: inout ByteReader) throws(WireError) in
                (try r.readNodeID(), LogIndex(try r.readUInt64()))
            }
            banned = Dictionary(list, uniquingKeysWith: { _, last in last })
        }
        if !r.isAtEnd { try workloads.decodeStartTimes(from: &r) }
        try r.expectEnd()
    }

    /// Checks a command before it is proposed, so a bad one never reaches the log.
    public static func validate(_ op: ControlCommand.Operation) -> String? {
        switch op {
        case let .setVar(key, value):
            if let why = validateKey(key) { return why }
            if value.utf8.count > ControlLimits.maxVarValueBytes { return "value of \(value.utf8.count) bytes; at most \(ControlLimits.maxVarValueBytes)" }
            return nil
        case let .removeVar(key): return validateKey(key)
        case let .createToken(name, _, hash), let .bootstrapToken(name, hash): return validateToken(name: name, hash: hash)
        case let .revokeToken(name): return validateToken(name: name, hash: nil)
        case .banMember: return nil
        case let .workload(c): return WorkloadState.validate(c)
        }
    }

    /// A variable's key: 1-`maxVarKeyBytes` printable ASCII characters without spaces, read
    /// as `/`-separated names (`app/db`) none of which is empty, `.` or `..`, so a key can
    /// name a file under a directory (as a tool that writes variables out would) and never
    /// one outside it: no absolute paths, no traversal, no NUL.
    public static func validateKey(_ key: String) -> String? {
        guard !key.isEmpty, key.utf8.count <= ControlLimits.maxVarKeyBytes,
              key.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            return "key \"\(key)\": 1-\(ControlLimits.maxVarKeyBytes) printable ASCII characters without spaces"
        }
        guard !key.split(separator: "/", omittingEmptySubsequences: false).contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) else {
            return "key \"\(key)\": /-separated names, none of them empty, . or .. (e.g. app/db)"
        }
        return nil
    }

    /// Applies one committed entry (a no-op when its command is empty).
    public mutating func apply(_ entry: LogEntry) -> ControlResult {
        precondition(entry.index > appliedIndex, "entries are applied once, in order")
        appliedIndex = entry.index
        guard !entry.command.isEmpty else { return .ok }
        guard let command = try? ControlCommand.decode(entry.command) else { return .refused("undecodable command") }
        if let why = Self.validate(command.operation) { return .refused(why) }
        switch command.operation {
        case let .setVar(key, value):
            guard vars[key] != nil || vars.count < ControlLimits.maxVars else {
                return .refused("\(ControlLimits.maxVars) variables already; remove some first")
            }
            vars[key] = VarEntry(value: value, index: entry.index)
        case let .removeVar(key):
            guard vars.removeValue(forKey: key) != nil else { return .refused("no variable \(key)") }
        case let .bootstrapToken(name, hash):
            guard tokens.isEmpty else { return .refused("the mesh has tokens already; ask an admin for one") }
            tokens[name] = TokenEntry(name: name, role: .admin, hash: hash, index: entry.index)
        case let .createToken(name, role, hash):
            guard tokens[name] == nil else { return .refused("a token named \(name) exists; revoke it first or pick another name") }
            guard token(hash: hash) == nil else { return .refused("that secret is in use") }
            guard tokens.count < TokenLimits.maxTokens else { return .refused("\(TokenLimits.maxTokens) tokens already; revoke some first") }
            tokens[name] = TokenEntry(name: name, role: role, hash: hash, index: entry.index)
        case let .revokeToken(name):
            guard tokens.removeValue(forKey: name) != nil else { return .refused("no token named \(name)") }
        case let .banMember(id):
            guard banned[id] == nil else { return .refused("\(id) is banned already") }
            guard banned.count < ControlLimits.maxBans else { return .refused("\(ControlLimits.maxBans) nodes banned already") }
            banned[id] = entry.index
        case let .workload(c):
            return workloads.apply(c, at: entry.index)
        }
        return .ok
    }
}
