#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads node and process statistics from /proc and /sys with plain file reads (no
/// shelling out). A file that is missing or unreadable gives nil or an empty list for its
/// part, never an error: containers and other kernels lack some of them.
///
/// Not thread-safe (it reuses one read buffer): one owner, e.g. the sampler's actor.
public final class StatsReader {
    public let settings: StatsSettings
    /// Clock ticks per second (USER_HZ), the unit of /proc CPU times.
    public static let clockTicksPerSecond: Double = {
        let hz = sysconf(Int32(_SC_CLK_TCK))
        return hz > 0 ? Double(hz) : 100
    }()
    public let ticksPerSecond: Double
    public let pageBytes: UInt64
    private var buffer = [UInt8](repeating: 0, count: 64 << 10)
    private var thermalZones: [String]?
    /// The CPU cooling devices (found once, like the thermal zones).
    private var coolingDevices: [String]?

    public init(settings: StatsSettings = StatsSettings()) {
        self.settings = settings
        ticksPerSecond = Self.clockTicksPerSecond
        let page = sysconf(Int32(_SC_PAGESIZE))
        pageBytes = page > 0 ? UInt64(page) : 4096
    }

    /// A full node reading; `monotonicNanoseconds` stamps it for rates.
    public func node(monotonicNanoseconds: Int64) -> NodeSnapshot {
        let proc = settings.procRoot
        return NodeSnapshot(
            monotonicNanoseconds: monotonicNanoseconds,
            cpu: read("\(proc)/stat").flatMap(ProcParsers.cpuStat),
            load: read("\(proc)/loadavg").flatMap(ProcParsers.loadAverage),
            memory: read("\(proc)/meminfo").flatMap(ProcParsers.memInfo),
            disk: disk(settings.diskPath),
            network: read("\(proc)/net/dev").map { ProcParsers.netDev($0, limit: settings.maxNetworkInterfaces) } ?? [],
            uptimeSeconds: read("\(proc)/uptime").flatMap(ProcParsers.uptime),
            temperatures: temperatures(),
            throttled: throttled())
    }

    /// One process's counters; nil when it does not exist (any more).
    public func process(_ pid: Int32, monotonicNanoseconds: Int64) -> ProcessSnapshot? {
        guard let stat = read("\(settings.procRoot)/\(pid)/stat").flatMap(ProcParsers.processStat) else { return nil }
        return ProcessSnapshot(pid: pid, monotonicNanoseconds: monotonicNanoseconds, cpuTicks: stat.cpuTicks,
                               residentBytes: stat.residentPages &* pageBytes, threads: stat.threads,
                               openFiles: countEntries("\(settings.procRoot)/\(pid)/fd"))
    }

    /// A process and all its descendants (found through /proc/PID/task/TID/children), summed:
    /// CPU ticks, resident bytes (shared pages count once per process), threads, open files.
    /// This is what an instance costs when its main process is a wrapper (`sh -c …`).
    /// The walk stops at `maxProcessesPerTree`. Nil when `root` does not exist.
    public func processTree(_ root: Int32, monotonicNanoseconds: Int64) -> ProcessSnapshot? {
        guard var total = process(root, monotonicNanoseconds: monotonicNanoseconds) else { return nil }
        var queue = children(of: root)
        var seen: Set<Int32> = [root]
        while let pid = queue.first, total.processes < settings.maxProcessesPerTree {
            queue.removeFirst()
            guard seen.insert(pid).inserted, let p = process(pid, monotonicNanoseconds: monotonicNanoseconds) else { continue }
            total.cpuTicks &+= p.cpuTicks
            total.residentBytes &+= p.residentBytes
            total.threads += p.threads
            if let f = p.openFiles { total.openFiles = (total.openFiles ?? 0) + f }
            total.processes += 1
            queue += children(of: pid)
        }
        return total
    }

    /// Children of every thread of `pid` (a child belongs to the thread that forked it).
    private func children(of pid: Int32) -> [Int32] {
        let taskDir = "\(settings.procRoot)/\(pid)/task"
        var out: [Int32] = []
        for tid in entries(taskDir) {
            guard let text = read("\(taskDir)/\(tid)/children") else { continue }
            var fields = ProcParsers.Fields(text[...])
            while let f = fields.next() { if let c = ProcParsers.uint(f) { out.append(Int32(truncatingIfNeeded: c)) } }
        }
        return out
    }

    /// statvfs of `path`; nil if it does not exist.
    public func disk(_ path: String) -> DiskUsage? {
        var s = statvfs()
        guard statvfs(path, &s) == 0 else { return nil }
        let unit = UInt64(s.f_frsize > 0 ? s.f_frsize : s.f_bsize)
        return DiskUsage(path: path, totalBytes: UInt64(s.f_blocks) &* unit, freeBytes: UInt64(s.f_bavail) &* unit)
    }

    /// Every `thermal_zone*` with a readable `temp` (the list of zones is found once).
    public func temperatures() -> [Temperature] {
        let root = "\(settings.sysRoot)/class/thermal"
        if thermalZones == nil {
            thermalZones = Array(entries(root).filter { $0.hasPrefix("thermal_zone") }.sorted().prefix(settings.maxThermalZones))
        }
        return thermalZones!.compactMap { zone in
            guard let celsius = read("\(root)/\(zone)/temp").flatMap(ProcParsers.thermalMillidegrees) else { return nil }
            let type = read("\(root)/\(zone)/type").map { String(decoding: $0, as: UTF8.self).trimmingNewline() }
            return Temperature(zone: zone, type: type, celsius: celsius)
        }
    }

    /// Whether the CPU is throttled now: the Raspberry Pi firmware's flags when the board has
    /// them, else any CPU cooling device acting (`cooling_device*` whose type is a CPU's,
    /// with `cur_state` above 0). nil when the system offers neither (a VM, a container).
    public func throttled() -> Bool? {
        if let pi = read("\(settings.sysRoot)/devices/platform/soc/soc:firmware/get_throttled").flatMap(ProcParsers.piThrottled) {
            return pi
        }
        let root = "\(settings.sysRoot)/class/thermal"
        if coolingDevices == nil {
            coolingDevices = entries(root).filter { $0.hasPrefix("cooling_device") }.sorted().filter { device in
                read("\(root)/\(device)/type").map { ProcParsers.isCPUCooling(String(decoding: $0, as: UTF8.self).trimmingNewline()) } ?? false
            }.prefix(settings.maxThermalZones).map { $0 }
        }
        var known = false
        for device in coolingDevices! {
            guard let state = read("\(root)/\(device)/cur_state").flatMap(ProcParsers.coolingState) else { continue }
            if state > 0 { return true }
            known = true
        }
        return known ? false : nil
    }

    /// The whole file (procfs reports size 0, so read until EOF); nil if unreadable.
    func read(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; return nil }
            if n == 0 { break }
            out.append(contentsOf: buffer[0 ..< n])
            if out.count >= 4 << 20 { break }     // no /proc file we read is near this
        }
        return out
    }

    private func entries(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let e = readdir(dir) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    private func countEntries(_ path: String) -> Int? {
        guard let dir = opendir(path) else { return nil }
        defer { closedir(dir) }
        var n = 0
        while let e = readdir(dir) {
            let first = withUnsafeBytes(of: e.pointee.d_name) { $0[0] }
            if first != UInt8(ascii: ".") { n += 1 }
        }
        return n
    }
}

extension String {
    func trimmingNewline() -> String {
        var s = Substring(self)
        while s.last == "\n" || s.last == " " { s.removeLast() }
        return String(s)
    }
}
