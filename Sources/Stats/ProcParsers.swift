/// Pure parsers of /proc and /sys text: bytes in, values out, nil when the text is not what
/// the kernel writes. No I/O, so each is tested with fixture strings.
public enum ProcParsers {
    /// /proc/stat: the `cpu` line and the `cpuN` lines (other lines are ignored).
    public static func cpuStat(_ text: [UInt8]) -> CPUStat? {
        var total: CPUTimes?
        var cores: [CPUTimes] = []
        for line in Lines(text) {
            guard line.count > 3, line[line.startIndex] == c, line[line.startIndex + 1] == p, line[line.startIndex + 2] == u else { continue }
            var fields = Fields(line)
            guard let name = fields.next() else { continue }
            var v = [UInt64](repeating: 0, count: 8)
            var n = 0
            while n < 8, let f = fields.next(), let x = uint(f) { v[n] = x; n += 1 }
            guard n >= 4 else { continue }      // user nice system idle at least (Linux 2.4)
            let times = CPUTimes(user: v[0], nice: v[1], system: v[2], idle: v[3], iowait: v[4], irq: v[5], softirq: v[6], steal: v[7])
            if name.count == 3 { total = times } else { cores.append(times) }
        }
        return total.map { CPUStat(total: $0, perCore: cores) }
    }

    /// /proc/loadavg: `0.52 0.58 0.59 1/467 12345`.
    public static func loadAverage(_ text: [UInt8]) -> LoadAverage? {
        var f = Fields(text[...])
        guard let a = f.next().flatMap(double), let b = f.next().flatMap(double), let c = f.next().flatMap(double) else { return nil }
        return LoadAverage(one: a, five: b, fifteen: c)
    }

    /// /proc/meminfo (values in kB): MemTotal, MemAvailable, SwapTotal, SwapFree.
    public static func memInfo(_ text: [UInt8]) -> MemoryInfo? {
        var total: UInt64?, available: UInt64?, swapTotal: UInt64?, swapFree: UInt64?
        for line in Lines(text) {
            var f = Fields(line)
            guard let key = f.next(), let value = f.next().flatMap(uint) else { continue }
            let bytes = value &* 1024
            if equal(key, "MemTotal:") { total = bytes }
            else if equal(key, "MemAvailable:") { available = bytes }
            else if equal(key, "SwapTotal:") { swapTotal = bytes }
            else if equal(key, "SwapFree:") { swapFree = bytes }
        }
        return total.map { MemoryInfo(totalBytes: $0, availableBytes: available, swapTotalBytes: swapTotal, swapFreeBytes: swapFree) }
    }

    /// /proc/net/dev: two header lines, then `iface: rx(8 fields) tx(8 fields)`.
    public static func netDev(_ text: [UInt8], limit: Int = .max) -> [NetworkCounters] {
        var out: [NetworkCounters] = []
        for line in Lines(text) {
            guard out.count < limit, let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
            let name = String(decoding: line[line.startIndex ..< colon].drop { $0 == space }, as: UTF8.self)
            var f = Fields(line[(colon + 1)...])
            var v = [UInt64](repeating: 0, count: 16)
            var n = 0
            while n < 16, let field = f.next(), let x = uint(field) { v[n] = x; n += 1 }
            guard n == 16 else { continue }
            out.append(NetworkCounters(interface: name, receiveBytes: v[0], receivePackets: v[1], receiveErrors: v[2], receiveDrops: v[3],
                                       transmitBytes: v[8], transmitPackets: v[9], transmitErrors: v[10], transmitDrops: v[11]))
        }
        return out
    }

    /// /proc/uptime: `350735.47 234388.90` (seconds up, seconds idle).
    public static func uptime(_ text: [UInt8]) -> Double? {
        var f = Fields(text[...])
        return f.next().flatMap(double)
    }

    /// The Raspberry Pi firmware's `get_throttled` (`0x50005`): whether the CPU is held back
    /// now — bit 1 frequency capped, bit 2 throttled, bit 3 soft temperature limit (the
    /// bits from 16 up say it happened since boot, which is not now). nil if unreadable.
    public static func piThrottled(_ text: [UInt8]) -> Bool? {
        var f = Fields(text[...])
        guard var field = f.next() else { return nil }
        if field.starts(with: Array("0x".utf8)) { field = field.dropFirst(2) }
        guard !field.isEmpty, let v = UInt64(String(decoding: field, as: UTF8.self), radix: 16) else { return nil }
        return v & 0b1110 != 0
    }

    /// Whether a thermal cooling device acts on the CPU (its `type`): `Processor` (x86's
    /// ACPI processor throttling), `cpufreq-…` or `cpu…` (ARM boards' frequency cooling).
    /// Fans and other devices are not the CPU being held back.
    public static func isCPUCooling(_ type: String) -> Bool {
        type == "Processor" || type.hasPrefix("cpufreq") || type.hasPrefix("cpu")
    }

    /// A cooling device's `cur_state`: 0 idle, above 0 acting.
    public static func coolingState(_ text: [UInt8]) -> UInt64? {
        var f = Fields(text[...])
        return f.next().flatMap(uint)
    }

    /// A thermal zone's `temp`: millidegrees Celsius.
    public static func thermalMillidegrees(_ text: [UInt8]) -> Double? {
        var f = Fields(text[...])
        guard let field = f.next() else { return nil }
        let negative = field.first == UInt8(ascii: "-")
        guard let v = uint(negative ? field.dropFirst() : field) else { return nil }
        return (negative ? -Double(v) : Double(v)) / 1000
    }

    /// /proc/PID/stat → (utime + stime + cutime + cstime ticks, threads, rss pages): the CPU
    /// time of the process and of the children it has reaped, so that a tree's sum does not
    /// drop when a child ends. Fields are counted after the last ')' since the command name
    /// may hold spaces and parentheses.
    public static func processStat(_ text: [UInt8]) -> (cpuTicks: UInt64, threads: Int, residentPages: UInt64)? {
        guard let close = text.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        var f = Fields(text[(close + 1)...])
        // After ')': index 0 = field 3. utime = 14, stime = 15, cutime = 16, cstime = 17,
        // num_threads = 20, rss = 24. cutime/cstime are signed in the kernel's text.
        var utime: UInt64?, stime: UInt64?, cutime: UInt64 = 0, cstime: UInt64 = 0, threads: UInt64?, rss: UInt64?
        var index = 3
        while let field = f.next(), index <= 24 {
            switch index {
            case 14: utime = uint(field)
            case 15: stime = uint(field)
            case 16: cutime = uint(field) ?? 0
            case 17: cstime = uint(field) ?? 0
            case 20: threads = uint(field)
            case 24: rss = uint(field)
            default: break
            }
            index += 1
        }
        guard let utime, let stime, let threads, let rss else { return nil }
        return (utime &+ stime &+ cutime &+ cstime, Int(threads), rss)
    }

    // MARK: - Scanning

    static let space = UInt8(ascii: " "), tab = UInt8(ascii: "\t"), newline = UInt8(ascii: "\n")
    private static let c = UInt8(ascii: "c"), p = UInt8(ascii: "p"), u = UInt8(ascii: "u")

    static func uint(_ s: ArraySlice<UInt8>) -> UInt64? {
        guard !s.isEmpty, s.count <= 20 else { return nil }
        var v: UInt64 = 0
        for b in s {
            guard b >= 0x30 && b <= 0x39 else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(b - 0x30))
            if o1 || o2 { return nil }
            v = a
        }
        return v
    }

    static func double(_ s: ArraySlice<UInt8>) -> Double? {
        Double(String(decoding: s, as: UTF8.self))
    }

    static func equal(_ s: ArraySlice<UInt8>, _ text: StaticString) -> Bool {
        guard s.count == text.utf8CodeUnitCount else { return false }
        return text.withUTF8Buffer { buffer in zip(s, buffer).allSatisfy { $0 == $1 } }
    }

    /// Lines of a text, without their newline.
    struct Lines: Sequence, IteratorProtocol {
        let text: [UInt8]
        var position = 0
        init(_ text: [UInt8]) { self.text = text }
        mutating func next() -> ArraySlice<UInt8>? {
            guard position < text.count else { return nil }
            let start = position
            while position < text.count && text[position] != ProcParsers.newline { position += 1 }
            let line = text[start ..< position]
            position += 1
            return line
        }
    }

    /// Whitespace-separated fields of a slice.
    struct Fields: IteratorProtocol {
        let text: ArraySlice<UInt8>
        var position: Int
        init(_ text: ArraySlice<UInt8>) { self.text = text; position = text.startIndex }
        mutating func next() -> ArraySlice<UInt8>? {
            func isSpace(_ b: UInt8) -> Bool { b == ProcParsers.space || b == ProcParsers.tab || b == ProcParsers.newline }
            while position < text.endIndex && isSpace(text[position]) { position += 1 }
            guard position < text.endIndex else { return nil }
            let start = position
            while position < text.endIndex && !isSpace(text[position]) { position += 1 }
            return text[start ..< position]
        }
    }
}
