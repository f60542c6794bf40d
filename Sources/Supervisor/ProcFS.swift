#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The few facts about a process that the supervisor reads from /proc.
struct ProcessFacts: Equatable {
    /// Field 3 of /proc/PID/stat: R, S, D, Z (zombie), T, …
    var state: UInt8
    /// Field 5.
    var processGroup: Int32
    /// Field 22: clock ticks after boot. With the pid, it names a process uniquely even
    /// after the pid is reused.
    var startTime: UInt64
}

public enum ProcFS {
    /// Parses /proc/PID/stat text. The command name (field 2) may hold spaces and
    /// parentheses, so fields are counted after the last ')'.
    static func parseStat(_ text: [UInt8]) -> ProcessFacts? {
        guard let close = text.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = text[(close + 1)...].split(separator: UInt8(ascii: " "), omittingEmptySubsequences: true)
        // After ')': index 0 = field 3 (state), 2 = field 5 (pgrp), 19 = field 22 (starttime).
        guard fields.count > 19, let state = fields[0].first,
              let pgrp = Int32(String(decoding: fields[2], as: UTF8.self)),
              let start = UInt64(String(decoding: fields[19], as: UTF8.self)) else { return nil }
        return ProcessFacts(state: state, processGroup: pgrp, startTime: start)
    }

    /// Clock ticks per second, the unit of ``ProcessFacts/startTime``.
    static let clockTicksPerSecond = UInt64(max(1, sysconf(Int32(_SC_CLK_TCK))))

    /// The `btime` line of /proc/stat: when the system booted, in seconds since the epoch.
    static func parseBootTime(_ text: [UInt8]) -> UInt64? {
        for line in text.split(separator: UInt8(ascii: "\n")) where line.starts(with: Array("btime ".utf8)) {
            return UInt64(String(decoding: line.dropFirst(6), as: UTF8.self).trimmingSpaces)
        }
        return nil
    }

    /// Boot time, read once: it does not change while the system runs.
    static let bootTimeSeconds: UInt64? = readFile("/proc/stat").flatMap(parseBootTime)

    /// When a process with `startTicks` (field 22) started, in wall-clock milliseconds since
    /// the epoch; nil when it is unknown (0) or the boot time is unreadable.
    static func wallMilliseconds(startTicks: UInt64) -> UInt64? {
        guard startTicks > 0, let boot = bootTimeSeconds else { return nil }
        return boot * 1000 + startTicks * 1000 / clockTicksPerSecond
    }

    static func facts(pid: Int32) -> ProcessFacts? {
        readFile("/proc/\(pid)/stat").flatMap(parseStat)
    }

    /// True when `pid` is the process that started at `startTime` and is not a zombie.
    static func isAlive(pid: Int32, startTime: UInt64) -> Bool {
        guard let f = facts(pid: pid) else { return false }
        return f.startTime == startTime && f.state != UInt8(ascii: "Z")
    }

    /// Live (non-zombie) processes whose process group is `group`, started at or after
    /// `startedAtOrAfter` (so a later group that reuses the number is not touched).
    static func groupMembers(_ group: Int32, startedAtOrAfter: UInt64 = 0) -> [Int32] {
        guard let dir = opendir("/proc") else { return [] }
        defer { closedir(dir) }
        var out: [Int32] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard let pid = Int32(name), let f = facts(pid: pid) else { continue }
            if f.processGroup == group, f.state != UInt8(ascii: "Z"), f.startTime >= startedAtOrAfter { out.append(pid) }
        }
        return out
    }

    /// Reads a small file (procfs files report size 0, so read until EOF); nil if missing.
    public static func readFile(_ path: String, limit: Int = 1 << 20) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while out.count < limit {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; return nil }
            if n == 0 { break }
            out.append(contentsOf: buffer[0 ..< n])
        }
        return out
    }
}

extension String {
    /// Without leading and trailing spaces (no Foundation here).
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
