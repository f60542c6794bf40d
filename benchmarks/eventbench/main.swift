// Event-log store benchmark: append rate to the SQLite store (one event per transaction,
// and batched), and the latency of `--since 1h --kind workload.` on a store of 1,000,000
// events. Release build; results and command in benchmarks/README.md ("Event log store").
//
// Events carry a fixed dummy signature: the store neither signs nor verifies (that is
// the replicator's job, measured by meshbench), so only storage is timed here.
import EventLog
import Foundation
import MeshCore
import Storage

/// Prints a line at once (unbuffered, also into a file).
func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

let arguments = CommandLine.arguments.dropFirst()
func option(_ name: String, _ fallback: Int) -> Int {
    guard let i = arguments.firstIndex(of: name), arguments.index(after: i) < arguments.endIndex else { return fallback }
    return Int(arguments[arguments.index(after: i)]) ?? fallback
}
let singleCount = option("--single", 2000)
let batchSize = option("--batch", 1000)
let totalEvents = option("--events", 1_000_000)
let origins = option("--origins", 50)
let queryRuns = option("--queries", 20)
let keep = arguments.contains("--keep")
/// `--dir PATH`: where the databases go (default: the temp directory).
let folder = (arguments.firstIndex(of: "--dir").flatMap { arguments.index(after: $0) < arguments.endIndex ? arguments[arguments.index(after: $0)] : nil }
    ?? NSTemporaryDirectory()) + "/eventbench-\(getpid())/"
try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
defer { if !keep { try? FileManager.default.removeItem(atPath: folder) } }

let clock = ContinuousClock()
func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
let ids = (0 ..< origins).map { NodeID(w0: 0x6d65_7368, w1: 0, w2: 0, w3: UInt64($0 + 1)) }
let signature = [UInt8](repeating: 0xab, count: 64)
let kinds = ["workload.started", "workload.exited", "member.alive", "member.dead", "user.deploy", "agent.started"]
/// `now` is the end of the stored history; events span the 24 hours before it.
let nowMs: UInt64 = 1_800_000_000_000
let spanMs: UInt64 = 24 * 3600 * 1000

/// The i-th event of a history of `total` events spread evenly over `spanMs`.
func event(_ i: Int, total: Int, seqs: inout [UInt64]) -> Event {
    let o = i % origins
    seqs[o] += 1
    let ms = nowMs - spanMs + UInt64(i) * spanMs / UInt64(total)
    return Event(origin: ids[o], seq: EventSeq(seqs[o]), time: HybridTimestamp(milliseconds: ms, logical: 0),
                 kind: kinds[i % kinds.count], attributes: ["instance": "web-\(i % 17)", "code": "\(i % 3)"],
                 signature: signature)
}

// 1. One event per transaction (each commit waits for fsync: synchronous=FULL).
var store = try SQLiteEventStore(path: folder + "single.db")
var seqs = [UInt64](repeating: 0, count: origins)
var start = clock.now
for i in 0 ..< singleCount { try store.append([event(i, total: singleCount, seqs: &seqs)], receivedAtMilliseconds: nowMs) }
let single = Double(singleCount) / seconds(clock.now - start)
say("append, one event per transaction: \(singleCount) events, \(Int(single)) events/s")

// 2. Batched, building the 1,000,000-event store the query runs on.
store = try SQLiteEventStore(path: folder + "big.db")
seqs = [UInt64](repeating: 0, count: origins)
start = clock.now
var i = 0
while i < totalEvents {
    let n = min(batchSize, totalEvents - i)
    try store.append((i ..< i + n).map { event($0, total: totalEvents, seqs: &seqs) }, receivedAtMilliseconds: nowMs)
    i += n
}
let batched = Double(totalEvents) / seconds(clock.now - start)
say("append, \(batchSize) events per transaction: \(totalEvents) events, \(Int(batched)) events/s")
let bytes = (try? FileManager.default.attributesOfItem(atPath: folder + "big.db")[.size] as? Int) ?? 0
say("database: \(bytes / 1_000_000) MB (+ WAL) for \(totalEvents) events")

// 3. `meshctl events --since 1h --kind workload.` (the API's default limit, and all of them).
for limit in [1000, Int(Int32.max)] {
    let q = EventQuery(sinceMilliseconds: nowMs - 3600 * 1000, kindPrefix: "workload.", limit: limit)
    var times: [Double] = []
    var count = 0
    for _ in 0 ..< queryRuns {
        let t0 = clock.now
        count = try store.query(q).count
        times.append(seconds(clock.now - t0) * 1000)
    }
    times.sort()
    let label = limit == 1000 ? "limit 1000" : "no limit"
    say("query --since 1h --kind workload. (\(label)): \(count) events, median \(String(format: "%.2f", times[times.count / 2])) ms, max \(String(format: "%.2f", times.last!)) ms over \(queryRuns) runs")
}
if keep { say("kept \(folder)big.db") }
