// Scheduler benchmark: one planning round that places every instance of a fresh set of
// workloads on a mesh (the leader's whole CPU cost for it), then a round after a node
// crash (only its instances move), then a round with nothing to do. Release build;
// results and command in benchmarks/README.md ("Scheduler").
import Foundation
import MeshCore
import Scheduler

let arguments = CommandLine.arguments.dropFirst()
func option(_ name: String, _ fallback: Int) -> Int {
    guard let i = arguments.firstIndex(of: name), arguments.index(after: i) < arguments.endIndex else { return fallback }
    return Int(arguments[arguments.index(after: i)]) ?? fallback
}
let nodeCount = option("--nodes", 1_000)
let workloadCount = option("--workloads", 1_000)
let perWorkload = option("--count", 10)
let runs = option("--runs", 5)

// Nodes: a mixed rack (a quarter arm64), four zones, 4 cores and 4-8 GB each.
var nodes = (0 ..< nodeCount).map { i in
    SchedulerNode(id: NodeID(w0: UInt64(i + 1), w1: 0, w2: 0, w3: 0), name: "n\(i)", arch: i % 4 == 0 ? "aarch64" : "x86_64",
                  tags: ["zone": "z\(i % 4)"], cpuMillicores: 4_000, memoryMB: 4_096 * (1 + i % 2))
}
// Workloads: a tenth constrained to arm64, a tenth to two zones, a fifth bin-packed.
let workloads = (0 ..< workloadCount).map { w in
    var constraints: [Constraint] = []
    if w % 10 == 0 { constraints.append(Constraint("arch", .equals("aarch64"))) }
    if w % 10 == 1 { constraints.append(Constraint("zone", .inSet(["z1", "z2"]))) }
    return WorkloadSpec(name: "w\(w)", command: ["sleep", "1000"], count: perWorkload,
                        resources: .init(cpuMillicores: 50 + 10 * (w % 10), memoryMB: 32 + 16 * (w % 8)),
                        constraints: constraints, strategy: w % 5 == 0 ? .binpack : .spread)
}

let clock = ContinuousClock()
func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) / 1e15 }
func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }

var placeTimes: [Double] = [], crashTimes: [Double] = [], idleTimes: [Double] = []
var placed = 0, pending = 0, moved = 0
for _ in 0 ..< runs {
    var input = SchedulerInput(workloads: workloads, nodes: nodes, placements: [])
    let t0 = clock.now
    let plan = Scheduler.plan(input, now: .zero)
    placeTimes.append(ms(clock.now - t0))
    placed = plan.place.count; pending = plan.pending.count
    input.placements = plan.place.enumerated().map {
        Placement(id: PlacementID(UInt64($0.offset + 1)), slot: $0.element.slot, node: $0.element.node, placedAt: .zero)
    }

    let t1 = clock.now
    let idle = Scheduler.plan(input, now: MeshTime(nanoseconds: 1_000_000_000))
    idleTimes.append(ms(clock.now - t1))
    precondition(idle.isEmpty, "a settled state plans nothing")

    input.nodes[7].reachability = .unreachable(since: .zero)
    let t2 = clock.now
    let crash = Scheduler.plan(input, now: MeshTime(nanoseconds: 60_000_000_000))
    crashTimes.append(ms(clock.now - t2))
    moved = crash.place.count
}
print("schedbench: \(nodeCount) nodes, \(workloadCount) workloads x \(perWorkload) = \(workloadCount * perWorkload) instances, \(runs) runs")
print("  place all:        \(placed) placed, \(pending) pending; median \(String(format: "%.1f", median(placeTimes))) ms (min \(String(format: "%.1f", placeTimes.min()!)) ms)")
print("  nothing to do:    median \(String(format: "%.1f", median(idleTimes))) ms")
print("  one node lost:    \(moved) moved; median \(String(format: "%.1f", median(crashTimes))) ms")
