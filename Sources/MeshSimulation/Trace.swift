import Foundation
import Membership
import MeshCore

/// Writes a line per simulation event to a file (`meshsim run --trace FILE`): virtual time,
/// then what happened. Buffered; flushed when the buffer fills and on `close()`.
public final class TraceWriter {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    /// Bytes buffered before a write to the file.
    public static let bufferBytes = 1 << 20

    /// Creates (or truncates) the file at `path`.
    public init(path: String) throws(ScenarioError) {
        guard FileManager.default.createFile(atPath: path, contents: nil),
              let handle = FileHandle(forWritingAtPath: path) else {
            throw .unreadable(path: path, reason: "cannot create the trace file (check the directory exists and is writable)")
        }
        self.handle = handle
        buffer.reserveCapacity(Self.bufferBytes)
    }

    func line(_ time: Int64, _ text: @autoclosure () -> String) {
        buffer.append(contentsOf: Report.seconds(time).utf8)
        buffer.append(UInt8(ascii: " "))
        buffer.append(contentsOf: text().utf8)
        buffer.append(UInt8(ascii: "\n"))
        if buffer.count >= Self.bufferBytes { flush() }
    }

    private func flush() {
        handle.write(Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }

    /// Writes what is buffered and closes the file.
    public func close() {
        flush()
        try? handle.close()
    }
}

extension Simulation {
    /// The updates a message carries, as ` [alive n4#2 suspect n7#0<n3]` (trace lines only).
    func traceUpdates(_ message: MembershipMessage) -> String {
        let updates: [Update] = switch message {
        case let .ping(m): m.updates
        case let .pingRequest(m): m.updates
        case let .ack(m): m.updates
        case let .nack(m): m.updates
        case let .gossip(m): m.updates
        case .pushPull: []
        }
        guard !updates.isEmpty else { return "" }
        func name(_ id: NodeID) -> String { ids.firstIndex(of: id).map { "n\($0)" } ?? "?" }
        let parts = updates.map { u -> String in
            switch u {
            case let .alive(a): "alive \(name(a.id))#\(a.incarnation.value)"
            case let .suspect(id, inc, from): "suspect \(name(id))#\(inc.value)<\(name(from))"
            case let .dead(id, inc, from): "dead \(name(id))#\(inc.value)<\(name(from))"
            }
        }
        return " [" + parts.joined(separator: " ") + "]"
    }
}
