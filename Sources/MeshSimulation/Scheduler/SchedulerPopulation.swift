import MeshCore
import Scheduler

extension SchedulerPopulation {
    /// The simulated node `index`: its id is `index + 1`, its name `n<index>`.
    static func node(_ index: Int, arch: String, tags: [String: String], cpuMillicores: Int, memoryMB: Int) -> SchedulerNode {
        SchedulerNode(id: NodeID(w0: UInt64(index + 1), w1: 0, w2: 0, w3: 0), name: "n\(index)", arch: arch, tags: tags,
                      cpuMillicores: cpuMillicores, memoryMB: memoryMB)
    }

    /// `count` nodes with arch and tags drawn from `random` (the same draws for every node,
    /// so one node's outcome never shifts another's).
    func makeNodes(_ count: Int, random: inout SeededRandom) -> [SchedulerNode] {
        (0 ..< count).map { i in
            let arch = random.nextUnit() < armShare ? "aarch64" : "x86_64"
            var nodeTags: [String: String] = [:]
            for t in tags { nodeTags[t.key] = t.values[Self.draw(0 ... t.values.count - 1, &random)] }
            return Self.node(i, arch: arch, tags: nodeTags, cpuMillicores: cpuMillicores, memoryMB: memoryMB)
        }
    }

    /// The workloads `w0 ... w<workloads-1>`, in submission order, each drawing its count,
    /// resources, constraints, strategy, `stop_after_disconnect` and `on_heal` from `random`.
    func makeWorkloads(random: inout SeededRandom, rescheduleAfter: Duration) -> [WorkloadSpec] {
        (0 ..< workloads).map { w in
            let count = Self.draw(self.count, &random)
            let cpu = Self.draw(self.cpu, &random), memory = Self.draw(self.memory, &random)
            let constraints = self.constraints.compactMap { random.nextUnit() < $0.share ? $0.constraint : nil }
            let strategy: WorkloadSpec.Strategy = random.nextUnit() < binpackShare ? .binpack : .spread
            let stops = random.nextUnit() < stopAfterDisconnectShare
            var u = random.nextUnit(), onHeal = WorkloadSpec.OnHeal.keepReplacement
            for s in self.onHeal {
                if u < s.share { onHeal = s.policy; break }
                u -= s.share
            }
            return WorkloadSpec(name: "w\(w)", command: ["sleep", "1000"], count: count,
                                resources: .init(cpuMillicores: cpu, memoryMB: memory), constraints: constraints,
                                strategy: strategy, rescheduleAfter: rescheduleAfter,
                                stopAfterDisconnect: stops ? stopAfterDisconnect : nil, onHeal: onHeal)
        }
    }

    static func draw(_ range: ClosedRange<Int>, _ random: inout SeededRandom) -> Int {
        range.lowerBound + Int(random.next() % UInt64(range.count))
    }
}
