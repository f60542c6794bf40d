import Foundation

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
