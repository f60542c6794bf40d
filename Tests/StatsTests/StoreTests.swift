import Foundation
@testable import Stats
import Testing

/// Retention and downsampling of the history, on synthetic times.
@Suite struct StoreTests {
    func stats(cpu: Double, memAvailable: UInt64, temp: Double?) -> NodeStats {
        let snap = NodeSnapshot(monotonicNanoseconds: 0, cpu: CPUStat(total: CPUTimes(), perCore: [CPUTimes(), CPUTimes()]), load: LoadAverage(one: cpu, five: 0, fifteen: 0),
                                memory: MemoryInfo(totalBytes: 8 << 30, availableBytes: memAvailable, swapTotalBytes: nil, swapFreeBytes: nil),
                                disk: nil, network: [], uptimeSeconds: 1, temperatures: temp.map { [Temperature(zone: "z", type: nil, celsius: $0)] } ?? [])
        var s = NodeStats(snapshot: snap, previous: nil)
        s.cpuUtilisation = cpu
        return s
    }

    @Test func rawForAnHourThenMinuteAveragesForADay() throws {
        let path = NSTemporaryDirectory() + "meshd-stats-\(UUID().uuidString.prefix(8)).db"
        defer { for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + s) } }
        let store = try StatsStore(path: path)
        let hour: Int64 = 3_600_000, minute: Int64 = 60_000
        let now: Int64 = 1_800_000_000_000 / minute * minute
        // Two samples a minute for 26 hours back: cpu 0.2 and 0.4 alternate within each minute.
        var t = now - 26 * hour
        while t <= now {
            try store.insert(stats(cpu: 0.2, memAvailable: 1000, temp: nil), wallMilliseconds: t)
            try store.insert(stats(cpu: 0.4, memAvailable: 3000, temp: 50), wallMilliseconds: t + 30_000)
            t += minute
        }
        try store.compact(nowWallMilliseconds: now)
        let all = try store.query(fromMilliseconds: 0, toMilliseconds: now + hour)
        let raw = all.filter { $0.resolution == .raw }, averaged = all.filter { $0.resolution == .downsampled }
        #expect(raw.allSatisfy { $0.wallMilliseconds >= now - hour })
        #expect(raw.count >= 120 && raw.count <= 122)
        #expect(averaged.allSatisfy { $0.wallMilliseconds >= now - 24 * hour && $0.wallMilliseconds < now - hour })
        #expect(averaged.count == 23 * 60)
        let point = try #require(averaged.first)
        #expect(abs((point.cpuUtilisation ?? 0) - 0.3) < 0.001)
        #expect(point.memoryAvailableBytes == 2000)
        #expect(point.temperatureCelsius == 50)             // the average ignores missing values
        #expect(point.swapTotalBytes == nil)
        #expect(point.cores == 2)
        #expect(all.map(\.wallMilliseconds) == all.map(\.wallMilliseconds).sorted())
        // Compacting again changes nothing; a range query returns just the range.
        try store.compact(nowWallMilliseconds: now)
        #expect(try store.query(fromMilliseconds: 0, toMilliseconds: now + hour).count == all.count)
        #expect(try store.query(fromMilliseconds: now - 10 * minute, toMilliseconds: now).count == 21)
        #expect(throws: StatsError.invalidRange(fromMilliseconds: 2, toMilliseconds: 1)) { try store.query(fromMilliseconds: 2, toMilliseconds: 1) }
    }
}
