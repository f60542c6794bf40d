#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Stream offsets of a rotated output stream: every byte an instance ever wrote to stdout
/// (or stderr) has a number, counted by the writer across rotations, so a reader's cursor
/// names a position in the stream, not in a file (a file's inode can be handed to a newer
/// file as soon as rotation deletes it).
///
/// The files of a stream are contiguous: `name.log.<k>` ends where `name.log.<k-1>` starts
/// and the oldest kept file starts at the oldest kept byte. So one number is persisted: the
/// offset of the live file's first byte, in `<name>.offset` next to the files, as
/// `"<offset> <inode of the live file>\n"`, replaced by rename after every rotation. The
/// inode tells a reader whether the number still belongs to the live file: after a crash
/// between a rotation's renames and the index update, the number belongs to `.1` (whose
/// inode cannot have been reused, since `.1` still exists), and the live file starts at that
/// number plus `.1`'s size.
enum LogOffsets {
    /// One file of the stream and where it sits in the stream.
    struct File: Equatable {
        var path: String
        var inode: UInt64
        /// Stream offset of the file's first byte.
        var start: UInt64
        var size: UInt64
        var end: UInt64 { start + size }
    }

    /// `<dir>/stdout.log` → `<dir>/stdout.offset`.
    static func indexPath(base: String) -> String {
        (base.hasSuffix(".log") ? String(base.dropLast(4)) : base) + ".offset"
    }

    /// The stream's files that exist, oldest first, with their stream offsets; empty when
    /// the live file does not exist. A missing or unreadable index numbers the oldest kept
    /// byte 0 (a stream written before offsets were kept, or a lost index).
    static func layout(base: String, maxFiles: Int) -> [File] {
        let paths = RotatingLogFile.paths(base: base, maxFiles: maxFiles)   // newest first
        var stats: [(path: String, inode: UInt64, size: UInt64)] = []
        for path in paths {
            var st = stat()
            // Rotated files are contiguous: stop at the first missing one.
            guard stat(path, &st) == 0 else { break }
            stats.append((path, UInt64(st.st_ino), UInt64(max(0, st.st_size))))
        }
        guard let live = stats.first else { return [] }
        let rotatedBytes = stats.dropFirst().reduce(0) { $0 + $1.size }
        var liveStart = rotatedBytes
        if let (start, inode) = readIndex(base: base) {
            if inode == live.inode {
                liveStart = start
            } else if stats.count > 1, inode == stats[1].inode {
                liveStart = start + stats[1].size        // rotated, index not yet rewritten
            } else {
                liveStart = max(start, rotatedBytes)     // unknown: never number backwards
            }
        }
        // Oldest first; a rotated file's start is its newer neighbour's start minus its size
        // (the index keeps offsets consistent with sizes, so this never goes below 0).
        var files: [File] = []
        var start = liveStart
        for (i, s) in stats.enumerated() {
            if i > 0 { start = start >= s.size ? start - s.size : 0 }
            files.append(File(path: s.path, inode: s.inode, start: start, size: s.size))
        }
        return files.reversed()
    }

    /// `(start, inode)` from the index, or nil when it is missing or malformed.
    static func readIndex(base: String) -> (UInt64, UInt64)? {
        let fd = open(indexPath(base: base), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        let fields = String(decoding: buffer.prefix(n), as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard fields.count == 2, let start = UInt64(fields[0]), let inode = UInt64(fields[1]) else { return nil }
        return (start, inode)
    }

    /// Replaces the index (temporary file, then rename, so a reader sees the old or the new
    /// one). Returns the failure's reason.
    static func writeIndex(base: String, start: UInt64, inode: UInt64) -> String? {
        let path = indexPath(base: base)
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { return "open \(temporary): \(String(cString: strerror(errno)))" }
        let bytes = Array("\(start) \(inode)\n".utf8)
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let writeErrno = errno
        close(fd)
        guard n == bytes.count else {
            unlink(temporary)
            return "write \(temporary): \(String(cString: strerror(n < 0 ? writeErrno : ENOSPC)))"
        }
        guard rename(temporary, path) == 0 else {
            let reason = "rename \(temporary): \(String(cString: strerror(errno)))"
            unlink(temporary)
            return reason
        }
        return nil
    }
}
