import MeshCore
import MeshWire

/// A command to the replicated control state, with who asked (recorded in the event log).
public struct ControlCommand: Sendable, Equatable {
    public enum Operation: Sendable, Equatable {
        case setVar(key: String, value: String)
        case removeVar(key: String)
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

/// The replicated state the leader manages (mesh-wide variables so far; workload specs
/// and placements come with the scheduler). Applied in log order on every node, so every
/// replica holds the same values at the same index.
public struct ControlState: Sendable, Equatable {
    public private(set) var vars: [String: VarEntry] = [:]
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
        try r.expectEnd()
        vars = Dictionary(entries, uniquingKeysWith: { _, last in last })
    }

    /// Checks a command before it is proposed, so a bad one never reaches the log.
    public static func validate(_ op: ControlCommand.Operation) -> String? {
        switch op {
        case let .setVar(key, value):
            if let why = validateKey(key) { return why }
            if value.utf8.count > ControlLimits.maxVarValueBytes { return "value of \(value.utf8.count) bytes; at most \(ControlLimits.maxVarValueBytes)" }
            return nil
        case let .removeVar(key): return validateKey(key)
        }
    }

    static func validateKey(_ key: String) -> String? {
        guard !key.isEmpty, key.utf8.count <= ControlLimits.maxVarKeyBytes,
              key.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            return "key \"\(key)\": 1-\(ControlLimits.maxVarKeyBytes) printable ASCII characters without spaces"
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
        }
        return .ok
    }
}
