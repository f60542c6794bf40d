#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A position in an instance's output stream that survives rotation: the number of bytes
/// the stream had received before it, counted by the writer across rotations
/// (``LogOffsets``). Remote readers (`meshctl logs -f` from another node) keep one and ask
/// for what follows it.
public struct LogCursor: Sendable, Codable, Equatable, Comparable {
    /// Bytes of the stream before this position.
    public var offset: UInt64

    public init(offset: UInt64) { self.offset = offset }

    /// The first byte the stream ever had (rotated away once the stream outgrew its files).
    public static let beginning = LogCursor(offset: 0)

    public static func < (a: LogCursor, b: LogCursor) -> Bool { a.offset < b.offset }
}

/// Bytes of one stream read from a cursor, and the cursor to continue from.
public struct LogChunk: Sendable, Codable, Equatable {
    public var data: [UInt8]
    public var next: LogCursor
    /// Set when the bytes at the cursor asked for are gone (rotated away: the reader was
    /// slower than `logMaxFiles × logMaxFileBytes` of output; or the stream was started
    /// anew): `data` then starts here, the oldest byte kept, instead.
    public var resumedAt: LogCursor?
    /// True when output between the cursor asked for and `data` was lost.
    public var gap: Bool { resumedAt != nil }

    public init(data: [UInt8], next: LogCursor, resumedAt: LogCursor? = nil) {
        self.data = data; self.next = next; self.resumedAt = resumedAt
    }
}

/// Reads a rotated stream by cursor: `name.log` (live), `name.log.1`, … as ``RotatingLogFile``
/// lays them out. Plain reads of closed files, so any thread may call it.
enum LogChunks {
    /// How often a read starts over when rotation moves the files under it.
    static let maxLayoutAttempts = 4

    /// The last `lines` lines (at most `maxBytes`, whole lines where possible) and the cursor
    /// at the end of the live file as it was measured first, so following from it repeats
    /// and misses nothing.
    static func tail(base: String, maxFiles: Int, lines: Int, maxBytes: Int) -> LogChunk {
        let live = LogOffsets.layout(base: base, maxFiles: maxFiles).last
        var bytes = LogTail.tailBytes(base: base, maxFiles: maxFiles, count: lines, liveLimit: Int64(live?.size ?? 0))
        if bytes.count > maxBytes {
            bytes = Array(bytes.suffix(maxBytes))
            if let nl = bytes.firstIndex(of: UInt8(ascii: "\n")), nl + 1 < bytes.count { bytes = Array(bytes[(nl + 1)...]) }
        }
        return LogChunk(data: bytes, next: LogCursor(offset: live?.end ?? 0))
    }

    /// Up to `maxBytes` following `cursor`, continuing from a rotated file into the newer
    /// ones. A cursor before the oldest byte kept resumes at that byte; a cursor past the
    /// end (the stream was started anew, e.g. its files were deleted) resumes at the
    /// oldest byte of the new stream. Both say so in `resumedAt`.
    static func read(base: String, maxFiles: Int, from cursor: LogCursor, maxBytes: Int) -> LogChunk {
        for _ in 0 ..< maxLayoutAttempts {
            if let chunk = tryRead(base: base, maxFiles: maxFiles, from: cursor, maxBytes: maxBytes) { return chunk }
        }
        return LogChunk(data: [], next: cursor)   // rotating faster than we read: next time
    }

    /// nil when a file was rotated between measuring the layout and reading it.
    private static func tryRead(base: String, maxFiles: Int, from cursor: LogCursor, maxBytes: Int) -> LogChunk? {
        let files = LogOffsets.layout(base: base, maxFiles: maxFiles)   // oldest first
        guard let oldest = files.first, let live = files.last else { return LogChunk(data: [], next: cursor) }
        var position = cursor.offset
        var resumedAt: LogCursor?
        if position < oldest.start || position > live.end {
            position = oldest.start
            resumedAt = LogCursor(offset: position)
        }
        var data: [UInt8] = []
        for file in files where file.end > position || file.path == live.path {
            guard data.count < maxBytes else { break }
            guard file.start <= position else { return nil }   // files not contiguous: moved
            guard let got = readRange(file.path, inode: file.inode, from: position - file.start,
                                      maxBytes: maxBytes - data.count) else { return nil }
            data += got
            position += UInt64(got.count)
            if position < file.end { break }   // short read or maxBytes reached
        }
        return LogChunk(data: data, next: LogCursor(offset: position), resumedAt: resumedAt)
    }

    /// Bytes `[from, from + maxBytes)` of the file at `path`; nil if it is no longer `inode`.
    private static func readRange(_ path: String, inode: UInt64, from: UInt64, maxBytes: Int) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, UInt64(st.st_ino) == inode else { return nil }
        let count = max(0, min(Int64(maxBytes), Int64(st.st_size) - Int64(from)))
        guard count > 0 else { return [] }
        var buffer = [UInt8](repeating: 0, count: Int(count))
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(from)) }
        return n > 0 ? Array(buffer.prefix(n)) : []
    }
}

extension Supervisor {
    /// The last `lines` lines of a stream (at most `maxBytes`) and a cursor to follow from.
    public nonisolated func tailChunk(_ id: InstanceID, stream: OutputStream, lines: Int, maxBytes: Int) -> LogChunk {
        LogChunks.tail(base: "\(logDirectory(of: id))/\(stream.rawValue).log", maxFiles: settings.logMaxFiles,
                       lines: lines, maxBytes: maxBytes)
    }

    /// Up to `maxBytes` of a stream after `cursor` (across rotations), and the next cursor.
    public nonisolated func readChunk(_ id: InstanceID, stream: OutputStream, from cursor: LogCursor,
                                      maxBytes: Int) -> LogChunk {
        LogChunks.read(base: "\(logDirectory(of: id))/\(stream.rawValue).log", maxFiles: settings.logMaxFiles,
                       from: cursor, maxBytes: maxBytes)
    }
}
