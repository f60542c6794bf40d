#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A position in an instance's output stream that survives rotation: the file (by inode,
/// since rotation renames files) and a byte offset in it. Remote readers (`meshctl logs -f`
/// from another node) keep one and ask for what follows it. A reader that falls behind by
/// more than the files kept may find its inode reused by a newer file (ext4 hands a freed
/// inode out again at once); it then continues in that file at its old offset, without
/// `gap`: a lag that large loses output either way.
public struct LogCursor: Sendable, Codable, Equatable {
    /// The file's inode; 0 means "the start of the oldest file kept".
    public var file: UInt64
    /// Bytes of that file already read.
    public var offset: Int64

    public init(file: UInt64, offset: Int64) { self.file = file; self.offset = offset }

    /// The start of the oldest file kept.
    public static let beginning = LogCursor(file: 0, offset: 0)
}

/// Bytes of one stream read from a cursor, and the cursor to continue from.
public struct LogChunk: Sendable, Codable, Equatable {
    public var data: [UInt8]
    public var next: LogCursor
    /// True when output between the cursor and `data` was lost to rotation (the reader was
    /// slower than `logMaxFiles × logMaxFileBytes` of output).
    public var gap: Bool

    public init(data: [UInt8], next: LogCursor, gap: Bool) { self.data = data; self.next = next; self.gap = gap }
}

/// Reads a rotated stream by cursor: `name.log` (live), `name.log.1`, … as ``RotatingLogFile``
/// lays them out. Plain reads of closed files, so any thread may call it.
enum LogChunks {
    /// The last `lines` lines (at most `maxBytes`, whole lines where possible) and the cursor
    /// at the end of the live file as it was measured first, so following from it repeats
    /// and misses nothing.
    static func tail(base: String, maxFiles: Int, lines: Int, maxBytes: Int) -> LogChunk {
        let live = identity(base)
        let end = live?.size ?? 0
        var bytes = LogTail.tailBytes(base: base, maxFiles: maxFiles, count: lines, liveLimit: end)
        if bytes.count > maxBytes {
            bytes = Array(bytes.suffix(maxBytes))
            if let nl = bytes.firstIndex(of: UInt8(ascii: "\n")), nl + 1 < bytes.count { bytes = Array(bytes[(nl + 1)...]) }
        }
        return LogChunk(data: bytes, next: LogCursor(file: live?.inode ?? 0, offset: end), gap: false)
    }

    /// Up to `maxBytes` following `cursor`, continuing from a rotated file into the newer
    /// ones. A cursor whose file was rotated away restarts at the oldest file kept (`gap`).
    static func read(base: String, maxFiles: Int, from cursor: LogCursor, maxBytes: Int) -> LogChunk {
        let paths = RotatingLogFile.paths(base: base, maxFiles: maxFiles)   // newest first
        let files = paths.map(identity)
        var index: Int?
        var offset = cursor.offset
        var gap = false
        if cursor.file != 0 {
            index = files.firstIndex { $0?.inode == cursor.file }
            if index == nil { gap = true }
        }
        if index == nil {
            // The oldest existing file, from its start.
            index = files.lastIndex { $0 != nil }
            offset = 0
        }
        guard var i = index, let first = files[i] else { return LogChunk(data: [], next: cursor, gap: false) }
        if offset > first.size { offset = 0; gap = true }   // truncated in place (maxFiles == 1)
        var data: [UInt8] = []
        var next = LogCursor(file: first.inode, offset: offset)
        while data.count < maxBytes {
            guard let file = files[i] else { break }
            let got = readRange(paths[i], inode: file.inode, from: offset, maxBytes: maxBytes - data.count)
            data += got
            next = LogCursor(file: file.inode, offset: offset + Int64(got.count))
            // Move to the next newer file only once this rotated one is read to its end.
            guard i > 0, next.offset >= file.size, let newer = files[i - 1] else { break }
            i -= 1
            offset = 0
            next = LogCursor(file: newer.inode, offset: 0)
        }
        return LogChunk(data: data, next: next, gap: gap)
    }

    private static func identity(_ path: String) -> (inode: UInt64, size: Int64)? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return (UInt64(st.st_ino), Int64(st.st_size))
    }

    /// Bytes `[from, from + maxBytes)` of the file at `path`, if it still is `inode`.
    private static func readRange(_ path: String, inode: UInt64, from: Int64, maxBytes: Int) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, UInt64(st.st_ino) == inode else { return [] }
        let count = max(0, min(Int64(maxBytes), Int64(st.st_size) - from))
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
