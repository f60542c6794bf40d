#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One output stream's files: `name.log` (live), `name.log.1` (newest rotated) …
/// `name.log.<maxFiles-1>` (oldest). A file never exceeds `maxFileBytes`, so the stream
/// never holds more than `maxFiles * maxFileBytes` on disk. Bytes are numbered across
/// rotations (``LogOffsets``): ``start`` is the stream offset of the live file's first byte,
/// kept in `name.offset`.
///
/// Confined to the log queue of its ``LogPipe``.
final class RotatingLogFile {
    let path: String
    let maxFileBytes: Int
    let maxFiles: Int
    private var fd: Int32 = -1
    private(set) var size = 0
    /// Stream offset of the live file's first byte (valid once opened).
    private(set) var start: UInt64 = 0
    private var startKnown = false

    init(path: String, maxFileBytes: Int, maxFiles: Int) {
        self.path = path
        self.maxFileBytes = max(1, maxFileBytes)
        self.maxFiles = max(1, maxFiles)
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    /// The files of this stream, newest first (the live one first).
    static func paths(base: String, maxFiles: Int) -> [String] {
        [base] + (1 ..< max(1, maxFiles)).map { "\(base).\($0)" }
    }

    /// Opens (creating) the live file for appending; returns the failure's reason.
    @discardableResult
    func open() -> String? {
        if fd >= 0 { return nil }
        let f = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard f >= 0 else { return "open \(path): \(String(cString: strerror(errno)))" }
        var st = stat()
        fstat(f, &st)
        fd = f
        size = Int(st.st_size)
        if !startKnown {
            // Continue the numbering of the files already there (an agent restart).
            start = LogOffsets.layout(base: path, maxFiles: maxFiles).last?.start ?? 0
            startKnown = true
            if LogOffsets.readIndex(base: path).map({ $0 != (start, UInt64(st.st_ino)) }) ?? true {
                _ = LogOffsets.writeIndex(base: path, start: start, inode: UInt64(st.st_ino))
            }
        }
        return nil
    }

    /// Stream offset just past the last byte written.
    var end: UInt64 { start + UInt64(size) }

    /// Appends `bytes`, rotating first when they would not fit; when a chunk must be split,
    /// it is split after its last newline that fits, so lines stay whole where possible.
    /// Returns the failure's reason; the bytes are then dropped.
    func write(_ bytes: UnsafeRawBufferPointer) -> String? {
        if let failure = open() { return failure }
        var rest = bytes
        while !rest.isEmpty {
            let room = maxFileBytes - size
            if rest.count <= room {
                if let failure = writeAll(rest) { return failure }
                break
            }
            var cut = room
            if room > 0, let nl = rest[0 ..< room].lastIndex(of: UInt8(ascii: "\n")) { cut = nl + 1 }
            if size == 0 { cut = room }   // an empty file takes as much as fits
            if cut > 0, let failure = writeAll(UnsafeRawBufferPointer(rebasing: rest[0 ..< cut])) { return failure }
            rest = UnsafeRawBufferPointer(rebasing: rest[cut...])
            if let failure = rotate() { return failure }
        }
        return nil
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) -> String? {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                let reason = "write \(path): \(String(cString: strerror(errno)))"
                // The file may hold a partial write; re-measure on the next open.
                Glibc.close(fd); fd = -1
                return reason
            }
            offset += n
            size += n
        }
        return nil
    }

    /// Shifts `name.log.i` to `.i+1` (dropping the oldest), starts an empty live file and
    /// records its stream offset. A failure to record it does not drop output: readers then
    /// derive the offset from `.1` (``LogOffsets/layout(base:maxFiles:)``).
    func rotate() -> String? {
        if fd >= 0 { Glibc.close(fd); fd = -1 }
        let newStart = start + UInt64(size)
        let files = Self.paths(base: path, maxFiles: maxFiles)
        if maxFiles == 1 {
            truncate(path, 0)
        } else {
            unlink(files[files.count - 1])
            for i in stride(from: files.count - 2, through: 0, by: -1) { rename(files[i], files[i + 1]) }
        }
        size = 0
        if let failure = open() { return failure }
        start = newStart
        var st = stat()
        if fstat(fd, &st) == 0 { _ = LogOffsets.writeIndex(base: path, start: start, inode: UInt64(st.st_ino)) }
        return nil
    }

    func close() { if fd >= 0 { Glibc.close(fd); fd = -1 } }
}
