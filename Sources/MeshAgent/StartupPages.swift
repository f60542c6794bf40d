import Glibc
import Supervisor

/// Hands back, once start-up is over, the pages of the agent's own executable that it has
/// mapped but no longer runs: argument parsing, migrations, the router's construction and
/// the like touch several megabytes of code once (and the kernel maps up to 64 KiB around
/// every page it faults in).
///
/// Only read-only, never-written mappings of the executable are released
/// (`madvise(MADV_DONTNEED)`): code and constants, never data and never a page that was
/// relocated or otherwise written (a mapping with any anonymous or swapped page is left
/// alone). The pages stay in the page cache, shared and evictable; code that runs again
/// maps its page back with a minor fault. The idle agent's RSS then reflects what it
/// actually uses (benchmarks/README.md, idle agent).
enum StartupPages {
    /// One mapping of the executable that may be released.
    struct Range: Equatable {
        var start: UInt
        var end: UInt
    }

    /// The releasable mappings of `executable` in a `/proc/self/smaps` text.
    static func releasable(smaps: String, executable: String) -> [Range] {
        var result: [Range] = []
        var current: (range: Range, eligible: Bool)?
        func close() {
            if let c = current, c.eligible { result.append(c.range) }
            current = nil
        }
        for line in smaps.split(separator: "\n", omittingEmptySubsequences: true) {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let first = fields.first, first.contains("-"), !first.hasSuffix(":"), fields.count >= 5 {
                close()
                let bounds = first.split(separator: "-")
                guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16) else { continue }
                let perms = fields[1]
                let path = fields.count >= 6 ? fields[5...].joined(separator: " ") : ""
                let readOnly = perms == "r-xp" || perms == "r--p"
                current = (Range(start: start, end: end), readOnly && path == executable)
            } else if fields.count >= 2, current?.eligible == true {
                // A page of the mapping that this process wrote is a private copy, counted as
                // anonymous (or swapped out): releasing it would throw the write away. (A
                // file page that is dirty in the page cache, as a freshly copied binary's
                // are, shows as `Private_Dirty` without being anonymous: unmapping it loses
                // nothing.)
                let key = fields[0]
                if key == "Anonymous:" || key == "Swap:" {
                    if fields[1] != "0" { current?.eligible = false }
                }
            }
        }
        close()
        return result
    }

    /// Releases this process's releasable mappings; returns the bytes of address space
    /// released (0 when /proc is unreadable or nothing qualifies).
    @discardableResult
    static func release() -> Int {
        guard let executable = readLink("/proc/self/exe"), let smaps = readText("/proc/self/smaps") else { return 0 }
        let ranges = releasable(smaps: smaps, executable: executable)
        var released = 0
        for r in ranges {
            guard let pointer = UnsafeMutableRawPointer(bitPattern: r.start) else { continue }
            if madvise(pointer, Int(r.end - r.start), MADV_DONTNEED) == 0 { released += Int(r.end - r.start) }
        }
        return released
    }

    static func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Bytes of `/proc/self/smaps` read at most (about 1 KiB per mapping).
    static let maxSmapsBytes = 8 << 20

    /// The whole file, or nil: a text cut at the limit could end a mapping before its
    /// `Anonymous:` line and make a written mapping look releasable.
    static func readText(_ path: String) -> String? {
        guard let bytes = ProcFS.readFile(path, limit: maxSmapsBytes), bytes.count < maxSmapsBytes else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}
