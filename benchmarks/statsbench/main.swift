// Stats benchmark: CPU time per sample (read /proc and /sys, compute, store in SQLite),
// measured with getrusage over many samples. Release build; see README-stats.md.
import Foundation
import Stats
#if canImport(Glibc)
import Glibc
#endif

func cpuMicroseconds() -> Double {
    var u = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
    return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6 + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec)
}

let samples = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 5000 : 5000
let dbPath = NSTemporaryDirectory() + "meshd-statsbench-\(getpid()).db"
defer { for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: dbPath + s) } }

// Reading only.
let reader = StatsReader(settings: .default(dataDirectory: NSTemporaryDirectory()))
var previous = reader.node(monotonicNanoseconds: 0)
var c0 = cpuMicroseconds()
for i in 1 ... samples {
    let snap = reader.node(monotonicNanoseconds: Int64(i) * 10_000_000_000)
    let stats = NodeStats(snapshot: snap, previous: previous)
    precondition(stats.cores >= 0)
    previous = snap
}
let readCost = (cpuMicroseconds() - c0) / Double(samples)

// The sampler as the agent runs it: read, compute, insert, compact every simulated minute
// (wall time advanced 10 s a sample, so the database fills as it would in 14 hours).
let sampler = try StatsSampler(settings: .default(dataDirectory: NSTemporaryDirectory()), databasePath: dbPath)
var wall: Int64 = 1_800_000_000_000
try await sampler.sample(wallMilliseconds: wall)
c0 = cpuMicroseconds()
for _ in 1 ... samples {
    wall += 10_000
    try await sampler.sample(wallMilliseconds: wall)
}
let sampleCost = (cpuMicroseconds() - c0) / Double(samples)

// Per-process statistics of this process, and the /metrics text.
let me = getpid()
c0 = cpuMicroseconds()
for _ in 1 ... samples { _ = await sampler.processes([me]) }
let processCost = (cpuMicroseconds() - c0) / Double(samples)
let node = await sampler.latest!
let procs = await sampler.processes([me])
c0 = cpuMicroseconds()
var bytes = 0
for _ in 1 ... samples { bytes += NodeMetrics.render(node: node, instances: ["self.0": procs[me]!]).utf8.count }
let renderCost = (cpuMicroseconds() - c0) / Double(samples)

print(String(format: "%d samples, %d CPUs, %d interfaces, %d thermal zones", samples, node.cores, node.snapshot.network.count, node.snapshot.temperatures.count))
print(String(format: "read /proc+/sys and compute: %.1f µs CPU per sample", readCost))
print(String(format: "full sample (read, compute, SQLite insert, compaction): %.1f µs CPU per sample", sampleCost))
print(String(format: "one instance (process tree: stat, fd count, children): %.1f µs CPU", processCost))
print(String(format: "Prometheus text (%d bytes): %.1f µs CPU", bytes / samples, renderCost))
