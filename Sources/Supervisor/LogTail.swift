#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads the last lines of a rotated stream without loading whole files: blocks are read
/// backwards from the live file, then from `.1`, `.2` … until enough newlines are seen.
enum LogTail {
    static let blockBytes = 64 << 10

    /// The last `count` lines (without their newline) across the stream's files; a final
    /// line without a newline counts as a line.
    static func lines(base: String, maxFiles: Int, count: Int) -> [String] {
        guard count > 0 else { return [] }
        let bytes = lastBytes(base: base, maxFiles: maxFiles, newlines: count + 1)
        var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        return lines.suffix(count).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The bytes of the last `count` lines, newlines included (what `follow` sends first).
    /// `liveLimit` ignores what the live file holds beyond that size.
    static func tailBytes(base: String, maxFiles: Int, count: Int, liveLimit: Int64? = nil) -> [UInt8] {
        guard count > 0 else { return [] }
        let bytes = lastBytes(base: base, maxFiles: maxFiles, newlines: count + 1, liveLimit: liveLimit)
        // Keep what follows the (count+1)-th newline from the end, ignoring a final newline.
        var seen = 0
        var i = bytes.count - 1
        if i >= 0, bytes[i] == UInt8(ascii: "\n") { i -= 1 }
        while i >= 0 {
            if bytes[i] == UInt8(ascii: "\n") { seen += 1; if seen == count { return Array(bytes[(i + 1)...]) } }
            i -= 1
        }
        return bytes
    }

    /// At least `newlines` newlines' worth of the stream's end (or all of it), in order.
    private static func lastBytes(base: String, maxFiles: Int, newlines: Int, liveLimit: Int64? = nil) -> [UInt8] {
        var chunks: [[UInt8]] = []   // newest first
        var seen = 0
        for path in RotatingLogFile.paths(base: base, maxFiles: maxFiles) {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { break }
            defer { close(fd) }
            var st = stat()
            fstat(fd, &st)
            var end = Int(st.st_size)
            if path == base, let liveLimit { end = min(end, Int(liveLimit)) }
            while end > 0 && seen < newlines {
                let start = max(0, end - blockBytes)
                var block = [UInt8](repeating: 0, count: end - start)
                let n = block.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(start)) }
                guard n == end - start else { break }
                seen += block.reduce(0) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
                chunks.append(block)
                end = start
            }
            if seen >= newlines { break }
        }
        return Array(chunks.reversed().joined())
    }
}
