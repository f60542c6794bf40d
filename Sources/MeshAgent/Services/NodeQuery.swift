import Foundation
import MeshAPI
import MeshCore
import MeshWire
import Supervisor

/// A question one agent asks another about its node, over one TCP exchange on the mesh
/// port (`MessageKind.nodeQuery`, answered by `nodeReply` on the same connection). Both
/// frames are sealed with the cluster key and signed, so only members ask and answer.
/// Bodies are JSON: these are rare, human-triggered requests (`ps`, `logs`, `stats`).
enum NodeQuery: Codable, Sendable, Equatable {
    /// Every instance this node's supervisor knows, with cpu and rss.
    case instances
    /// A chunk of one instance's output.
    case logs(LogRequest)
    /// The latest sample and history of the last `historySeconds`.
    case stats(historySeconds: Int)
    /// Run a command (`meshctl exec`); answered once it runs.
    case execStart(ExecStart)
    /// A running command's output from the offsets given, and its status.
    case execPoll(ExecPoll)
    /// Kill a command's process group now.
    case execCancel(session: String)
    /// Write to an instance's stdin (`meshctl attach`).
    case stdin(instance: String, data: Data)
}

/// What `NodeQuery.logs` asks: the last `tailLines` lines (no cursor), or what follows
/// `cursor`, at most `maxBytes` (capped by `AgentLimits.maxLogChunkBytes` on the answering side).
struct LogRequest: Codable, Sendable, Equatable {
    var instance: String
    var stream: LogStream
    var tailLines: Int
    var cursor: LogCursor?
    var maxBytes: Int
}

/// A log chunk on the wire (bytes as base64 in the JSON body).
struct LogChunkReply: Codable, Sendable, Equatable {
    var data: Data
    var next: LogCursor
    /// Where `data` starts when the bytes at the cursor asked for were rotated away.
    var resumedAt: LogCursor?
    var gap: Bool { resumedAt != nil }
}

/// The answer to a `NodeQuery`.
enum NodeReply: Codable, Sendable, Equatable {
    case instances([InstanceRow])
    case logs(LogChunkReply)
    case stats(NodeStatsInfo)
    /// The node understood the question and refused it (unknown instance, bad request).
    case refused(String)
    /// The command runs; its output is asked for by this exec id (`session` on the wire).
    case execStarted(session: String)
    case execOutput(ExecChunk)
    /// An exec, attach or stdin request refused, with a reason the API maps to a status.
    case execRefused(ExecRefusal)
    case stdinWritten(bytes: Int)
}

/// Why asking a member failed.
enum NodeQueryError: Error, Sendable, CustomStringConvertible {
    case unknownMember(String)
    case unreachable(String, reason: String)
    case badReply(String, reason: String)
    case refused(String)

    var description: String {
        switch self {
        case let .unknownMember(name): "no live member \(name)"
        case let .unreachable(name, reason): "\(name) did not answer: \(reason)"
        case let .badReply(name, reason): "\(name) answered something unreadable: \(reason)"
        case let .refused(why): why
        }
    }
}

extension NodeQuery {
    var encoded: [UInt8] { (try? Array(JSONEncoder().encode(self))) ?? [] }
    static func decode(_ body: [UInt8]) -> NodeQuery? { try? JSONDecoder().decode(NodeQuery.self, from: Data(body)) }
}

extension NodeReply {
    var encoded: [UInt8] { (try? Array(JSONEncoder().encode(self))) ?? [] }
}
