@testable import Stats
import Testing

/// Fixture text, as the kernel writes it, through the pure parsers.
@Suite struct ParserTests {
    func b(_ s: String) -> [UInt8] { Array(s.utf8) }

    @Test func cpuStat() throws {
        let text = """
            cpu  10132153 290696 3084719 46828483 16683 0 25195 0 0 0
            cpu0 1393280 32966 572056 13343292 6130 0 17875 0 0 0
            cpu1 1335 11 33 44
            intr 1462898 0 0
            ctxt 2311391
            """
        let stat = try #require(ProcParsers.cpuStat(b(text)))
        #expect(stat.total == CPUTimes(user: 10132153, nice: 290696, system: 3084719, idle: 46828483, iowait: 16683, irq: 0, softirq: 25195, steal: 0))
        #expect(stat.perCore.count == 2)
        #expect(stat.perCore[1] == CPUTimes(user: 1335, nice: 11, system: 33, idle: 44))
        #expect(ProcParsers.cpuStat(b("nothing here\n")) == nil)
        #expect(ProcParsers.cpuStat([]) == nil)
    }

    @Test func utilisationFromTwoSamples() {
        let a = CPUTimes(user: 100, system: 100, idle: 800)
        let b = CPUTimes(user: 150, system: 150, idle: 900)       // +100 busy, +100 idle
        #expect(b.utilisation(since: a) == 0.5)
        #expect(a.utilisation(since: a) == nil)
    }

    @Test func loadMemoryUptimeThermal() {
        #expect(ProcParsers.loadAverage(b("0.52 0.58 1.59 1/467 12345\n")) == LoadAverage(one: 0.52, five: 0.58, fifteen: 1.59))
        #expect(ProcParsers.loadAverage(b("x")) == nil)
        let meminfo = """
            MemTotal:       16314204 kB
            MemFree:         1003472 kB
            MemAvailable:    9876544 kB
            SwapTotal:       2097148 kB
            SwapFree:        2097148 kB
            """
        #expect(ProcParsers.memInfo(b(meminfo)) == MemoryInfo(totalBytes: 16314204 * 1024, availableBytes: 9876544 * 1024,
                                                               swapTotalBytes: 2097148 * 1024, swapFreeBytes: 2097148 * 1024))
        // An old kernel: no MemAvailable, no swap lines.
        #expect(ProcParsers.memInfo(b("MemTotal: 1000 kB\nMemFree: 10 kB\n")) == MemoryInfo(totalBytes: 1_024_000, availableBytes: nil, swapTotalBytes: nil, swapFreeBytes: nil))
        #expect(ProcParsers.memInfo(b("")) == nil)
        #expect(ProcParsers.uptime(b("350735.47 234388.90\n")) == 350735.47)
        #expect(ProcParsers.thermalMillidegrees(b("48312\n")) == 48.312)
        #expect(ProcParsers.thermalMillidegrees(b("-5000\n")) == -5.0)
        #expect(ProcParsers.thermalMillidegrees(b("hot\n")) == nil)
        #expect(ProcParsers.piThrottled(b("throttled=0x50005\n")) == nil)
        #expect(ProcParsers.piThrottled(b("0x0\n")) == false)
        #expect(ProcParsers.piThrottled(b("4\n")) == true)
        #expect(ProcParsers.piThrottled(b("0x8\n")) == true)
        #expect(ProcParsers.piThrottled(b("0x10000\n")) == false)
        #expect(ProcParsers.coolingState(b("2\n")) == 2)
        #expect(ProcParsers.isCPUCooling("Processor") && ProcParsers.isCPUCooling("cpufreq-cpu0") && !ProcParsers.isCPUCooling("Fan"))
    }

    @Test func netDev() {
        let text = """
            Inter-|   Receive                                                |  Transmit
             face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
                lo: 2776770   11307    0    0    0     0          0         0  2776770   11307    0    0    0     0       0          0
              eth0: 1215645    2751    3    4    0     0          0         0  1782404    4324    5    6    0     427     0          0
            broken: 1 2 3
            """
        let n = ProcParsers.netDev(b(text))
        #expect(n.count == 2)
        #expect(n[1] == NetworkCounters(interface: "eth0", receiveBytes: 1215645, receivePackets: 2751, receiveErrors: 3, receiveDrops: 4,
                                        transmitBytes: 1782404, transmitPackets: 4324, transmitErrors: 5, transmitDrops: 6))
        #expect(ProcParsers.netDev(b(text), limit: 1).count == 1)
    }

    @Test func processStat() throws {
        let text = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 500 0 0 0 250 50 7 3 20 0 7 0 123456 987654321 2048 18446744073709551615 1 1 0 0"
        let p = try #require(ProcParsers.processStat(b(text)))
        #expect(p.cpuTicks == 310 && p.threads == 7 && p.residentPages == 2048)
        #expect(ProcParsers.processStat(b("4242 (x) S 1 2 3")) == nil)
    }

    @Test func nodeStatsRatesAndSummary() {
        func snap(_ t: Int64, busy: UInt64, idle: UInt64, rx: UInt64) -> NodeSnapshot {
            let core = CPUTimes(user: busy, idle: idle)
            return NodeSnapshot(monotonicNanoseconds: t, cpu: CPUStat(total: CPUTimes(user: busy * 2, idle: idle * 2), perCore: [core, core]),
                                load: nil, memory: MemoryInfo(totalBytes: 4 << 30, availableBytes: 1 << 30, swapTotalBytes: nil, swapFreeBytes: nil),
                                disk: nil,
                                network: [NetworkCounters(interface: "eth0", receiveBytes: rx, receivePackets: 0, receiveErrors: 0, receiveDrops: 0,
                                                          transmitBytes: 0, transmitPackets: 0, transmitErrors: 0, transmitDrops: 0),
                                          NetworkCounters(interface: "lo", receiveBytes: rx * 100, receivePackets: 0, receiveErrors: 0, receiveDrops: 0,
                                                          transmitBytes: 0, transmitPackets: 0, transmitErrors: 0, transmitDrops: 0)],
                                uptimeSeconds: nil, temperatures: [])
        }
        let first = NodeStats(snapshot: snap(0, busy: 100, idle: 100, rx: 0), previous: nil)
        #expect(first.cpuUtilisation == nil && first.freeCPUCores == nil)
        let second = NodeStats(snapshot: snap(2_000_000_000, busy: 125, idle: 175, rx: 4000), previous: first.snapshot)
        #expect(second.cpuUtilisation == 0.25)
        #expect(second.cpuUtilisationPerCore == [0.25, 0.25])
        #expect(second.receiveBytesPerSecond == 2000)         // loopback left out
        #expect(second.summary == NodeSummary(cores: 2, freeCPUCores: 1.5, freeMemoryMB: 1024, totalMemoryMB: 4096))
        #expect(second.summary.tags == ["cpu_cores": "2", "cpu_free": "1.5", "mem_free_mb": "1024", "mem_total_mb": "4096"])
    }
}
