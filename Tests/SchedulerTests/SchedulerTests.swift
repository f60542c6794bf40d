import MeshCore
@testable import Scheduler
import Testing

/// A small mesh to place on, and a committed state the tests apply plans to.
struct Mesh {
    var nodes: [SchedulerNode]
    var workloads: [WorkloadSpec] = []
    var placements: [Placement] = []
    var crashLoops: [CrashLoop] = []
    var hot: Set<NodeID> = []
    var nextID: UInt64 = 1

    static func id(_ i: Int) -> NodeID { NodeID(w0: UInt64(i), w1: 0, w2: 0, w3: 0) }

    init(_ count: Int, cpu: Int = 4_000, memory: Int = 4_096, arch: String = "x86_64") {
        nodes = (0 ..< count).map { SchedulerNode(id: Mesh.id($0), name: "n\($0)", arch: arch, cpuMillicores: cpu, memoryMB: memory) }
    }

    var input: SchedulerInput { SchedulerInput(workloads: workloads, nodes: nodes, placements: placements, crashLoops: crashLoops, hot: hot) }

    func plan(at now: MeshTime = .zero, startedAt: [PlacementID: MeshTime] = [:]) -> SchedulerPlan {
        var input = input
        input.startedAt = startedAt
        return Scheduler.plan(input, now: now)
    }

    /// Commits a plan as the leader would: stops go, places get the next ids.
    @discardableResult
    mutating func commit(_ plan: SchedulerPlan, at now: MeshTime = .zero) -> [Placement] {
        let stopped = Set(plan.stop.map(\.placement))
        placements.removeAll { stopped.contains($0.id) }
        let added = plan.place.map { p -> Placement in
            defer { nextID += 1 }
            return Placement(id: PlacementID(nextID), slot: p.slot, node: p.node, placedAt: now, replaces: p.replaces)
        }
        placements += added
        return added
    }

    /// Plans and commits until nothing changes (a bounded number of rounds).
    mutating func settle(at now: MeshTime = .zero) {
        for _ in 0 ..< 10 {
            let p = plan(at: now)
            if p.isEmpty { return }
            commit(p, at: now)
        }
        Issue.record("the plan did not settle in 10 rounds")
    }

    func nodesOf(_ workload: String) -> [Int] {
        placements.filter { $0.slot.workload == workload }.map { Int($0.node.w0) }.sorted()
    }
}

extension MeshTime {
    static func s(_ seconds: Int64) -> MeshTime { MeshTime(nanoseconds: seconds * 1_000_000_000) }
}

struct PlacementTests {
    @Test func spreadPutsOneInstancePerNodeAndTheNextPlanIsEmpty() {
        var mesh = Mesh(3)
        mesh.workloads = [WorkloadSpec(name: "web", command: ["sleep", "1000"], count: 3)]
        let plan = mesh.plan()
        #expect(plan.place.map(\.slot) == [InstanceSlot("web", 0), InstanceSlot("web", 1), InstanceSlot("web", 2)])
        #expect(Set(plan.place.map(\.node)).count == 3)
        #expect(plan.stop.isEmpty && plan.pending.isEmpty)
        mesh.commit(plan)
        #expect(mesh.plan().isEmpty, "level-triggered: what is placed is what should be")
        #expect(mesh.plan().pending.isEmpty)
    }

    @Test func spreadPrefersTheNodeWithMostRoomAndBinpackTheLeast() {
        var mesh = Mesh(3)
        mesh.nodes[1].memoryMB = 8_192
        mesh.workloads = [WorkloadSpec(name: "a", command: ["x"], count: 1, resources: .init(memoryMB: 512))]
        #expect(mesh.plan().place.map(\.node) == [Mesh.id(1)])

        mesh.workloads = [WorkloadSpec(name: "b", command: ["x"], count: 4, resources: .init(cpuMillicores: 1_000), strategy: .binpack)]
        mesh.settle()
        #expect(mesh.nodesOf("b") == [0, 0, 0, 0], "binpack fills the fullest node that fits, ties to the lower id")
        mesh.workloads[0].count = 5
        mesh.settle()
        #expect(mesh.nodesOf("b") == [0, 0, 0, 0, 1], "node 0 is full (4,000 mCPU); 1 and 2 have equal room: the lower id")
        mesh.workloads.append(WorkloadSpec(name: "c", command: ["x"], count: 1, resources: .init(cpuMillicores: 500), strategy: .binpack))
        mesh.settle()
        #expect(mesh.nodesOf("c") == [1], "the fuller of the two")
    }

    @Test func constraintsOnArchNameAndTagsAreRespected() throws {
        var mesh = Mesh(4)
        mesh.nodes[2].arch = "aarch64"
        mesh.nodes[3].arch = "aarch64"
        mesh.nodes[3].tags["zone"] = "b"
        mesh.nodes[1].tags["zone"] = "a"
        mesh.workloads = [
            WorkloadSpec(name: "arm", command: ["x"], count: 2, constraints: [try Constraint.parse("arch=aarch64")]),
            WorkloadSpec(name: "notn0", command: ["x"], count: 3, constraints: [try Constraint.parse("name!=n0")]),
            WorkloadSpec(name: "zoned", command: ["x"], count: 2, constraints: [try Constraint.parse("zone in a,b")]),
        ]
        mesh.settle()
        #expect(mesh.nodesOf("arm") == [2, 3])
        #expect(mesh.nodesOf("notn0") == [1, 2, 3])
        #expect(mesh.nodesOf("zoned") == [1, 3])
    }

    @Test func workThatFitsNowhereIsPendingWithItsReasonAndPlacedFirstComeWhenANodeFits() throws {
        var mesh = Mesh(2, memory: 1_024)
        mesh.workloads = [
            WorkloadSpec(name: "pi", command: ["x"], count: 1, resources: .init(memoryMB: 512),
                         constraints: [try Constraint.parse("arch=aarch64")]),
            WorkloadSpec(name: "big", command: ["x"], count: 1, resources: .init(memoryMB: 2_048)),
            WorkloadSpec(name: "later", command: ["x"], count: 1, resources: .init(memoryMB: 512),
                         constraints: [try Constraint.parse("arch=aarch64")]),
        ]
        let plan = mesh.plan()
        #expect(plan.place.isEmpty)
        #expect(plan.pending.map(\.reason) == [
            "no node with arch=aarch64",
            "no node with 2048 MB free (2 match: 2 full)",
            "no node with arch=aarch64",
        ])

        // A Pi with room for one 512 MB instance joins: the first-come workload gets it.
        mesh.nodes.append(SchedulerNode(id: Mesh.id(9), name: "pi", arch: "aarch64", cpuMillicores: 4_000, memoryMB: 700))
        mesh.settle()
        #expect(mesh.nodesOf("pi") == [9])
        #expect(mesh.nodesOf("later").isEmpty)
        #expect(mesh.plan().pending.map(\.reason).contains("no node with arch=aarch64 and 512 MB free (1 match: 1 full)"))
    }

    @Test func slotsBeyondTheRoomLeftArePendingInOrderWithOneReason() {
        // Two nodes of 1.5 GB, 512 MB of it taken: room for five 512 MB instances of seven;
        // the last two slots are pending, in order, with the reason the first failed search found.
        var mesh = Mesh(2, memory: 1_536)
        mesh.workloads = [WorkloadSpec(name: "web", command: ["x"], count: 7, resources: .init(memoryMB: 512))]
        mesh.placements = [Placement(id: PlacementID(1), slot: InstanceSlot("other", 0), node: Mesh.id(0), placedAt: .zero)]
        mesh.workloads.append(WorkloadSpec(name: "other", command: ["x"], count: 1, resources: .init(memoryMB: 512)))
        let plan = mesh.plan()
        #expect(plan.place.map(\.slot.instance) == [0, 1, 2, 3, 4])
        #expect(plan.pending.map(\.slot) == [InstanceSlot("web", 5), InstanceSlot("web", 6)])
        #expect(Set(plan.pending.map(\.reason)) == ["no node with 512 MB free (2 match: 2 full)"])
    }

    @Test func scalingDownStopsTheHighestInstancesAndRemovingAWorkloadStopsAll() {
        var mesh = Mesh(3)
        mesh.workloads = [WorkloadSpec(name: "web", command: ["x"], count: 3), WorkloadSpec(name: "db", command: ["x"], count: 1)]
        mesh.settle()
        mesh.workloads[0].count = 1
        let down = mesh.plan()
        #expect(down.stop.map(\.slot) == [InstanceSlot("web", 1), InstanceSlot("web", 2)])
        #expect(down.stop.allSatisfy { $0.reason == .scaledDown })
        mesh.commit(down)
        mesh.workloads.removeFirst()
        let removed = mesh.plan()
        #expect(removed.stop.map(\.slot) == [InstanceSlot("web", 0)])
        #expect(removed.stop.first?.reason == .workloadRemoved)
    }

    @Test func aLostNodesInstancesWaitForTheGraceThenMoveAndALeftNodesMoveAtOnce() throws {
        var mesh = Mesh(3)
        mesh.workloads = [WorkloadSpec(name: "web", command: ["x"], count: 3, rescheduleAfter: .seconds(30))]
        mesh.settle()
        let onNode1 = try #require(mesh.placements.first { $0.node == Mesh.id(1) })
        mesh.nodes[1].reachability = .unreachable(since: .s(100))

        let waiting = mesh.plan(at: .s(110))
        #expect(waiting.isEmpty)
        #expect(waiting.pending.map(\.reason) == ["waiting for n1, unreachable for 10 s; moves after 30 s"])

        let moved = mesh.plan(at: .s(130))
        #expect(moved.place.count == 1)
        #expect(moved.place.first?.slot == onNode1.slot)
        #expect(moved.place.first?.replaces == onNode1.id)
        #expect(moved.place.first?.node != Mesh.id(1))
        #expect(moved.stop.isEmpty, "the original's record stays: the node may come back (then one of the two stops)")
        mesh.commit(moved, at: .s(130))
        #expect(mesh.plan(at: .s(131)).isEmpty)

        mesh.nodes[2].reachability = .left
        let left = mesh.plan(at: .s(140))
        #expect(left.stop.map(\.reason) == [.nodeLeft])
        #expect(left.place.count == 1, "a node that left is not waited for")
    }

    @Test func afterAHealTheSurplusStopsByTheOnHealPolicy() throws {
        for (policy, keepsOriginal) in [(WorkloadSpec.OnHeal.keepReplacement, false), (.keepOriginal, true)] {
            var mesh = Mesh(2)
            mesh.workloads = [WorkloadSpec(name: "web", command: ["x"], count: 1, rescheduleAfter: .seconds(30), onHeal: policy)]
            mesh.settle()
            let original = try #require(mesh.placements.first)
            mesh.nodes[Int(original.node.w0)].reachability = .unreachable(since: .s(0))
            let replacement = try #require(mesh.commit(mesh.plan(at: .s(31)), at: .s(31)).first)
            mesh.nodes[Int(original.node.w0)].reachability = .alive
            let healed = mesh.plan(at: .s(90))
            let stop = try #require(healed.stop.first)
            #expect(healed.stop.count == 1 && healed.place.isEmpty)
            #expect(stop.placement == (keepsOriginal ? replacement.id : original.id), "\(policy)")
            #expect(stop.reason == .surplusAfterHeal(kept: keepsOriginal ? original.id : replacement.id, policy: policy))
        }
    }

    @Test func longestRunningKeepsTheInstanceThatStartedFirst() throws {
        var mesh = Mesh(2)
        mesh.workloads = [WorkloadSpec(name: "web", command: ["x"], count: 1, onHeal: .longestRunning)]
        mesh.placements = [
            Placement(id: PlacementID(1), slot: InstanceSlot("web", 0), node: Mesh.id(0), placedAt: .s(0)),
            Placement(id: PlacementID(2), slot: InstanceSlot("web", 0), node: Mesh.id(1), placedAt: .s(40), replaces: PlacementID(1)),
        ]
        // The original restarted at 50 s (its node rebooted); the replacement runs since 41 s.
        let plan = mesh.plan(at: .s(60), startedAt: [PlacementID(1): .s(50), PlacementID(2): .s(41)])
        #expect(plan.stop.map(\.placement) == [PlacementID(1)])
        #expect(plan.stop.first?.reason == .surplusAfterHeal(kept: PlacementID(2), policy: .longestRunning))
        // The reported start times decide, not the placement order: the original kept
        // running through the partition, so it wins.
        let kept = mesh.plan(at: .s(60), startedAt: [PlacementID(1): .s(1), PlacementID(2): .s(41)])
        #expect(kept.stop.map(\.placement) == [PlacementID(2)])
        // A placement whose node has not reported yet counts from its placement time.
        let unreported = mesh.plan(at: .s(60), startedAt: [PlacementID(2): .s(41)])
        #expect(unreported.stop.map(\.placement) == [PlacementID(2)], "p1 placed at 0 s runs longer than p2 started at 41 s")
    }

    @Test func aHotNodeGetsNoNewPlacementsUntilItCoolsWithHysteresis() {
        var mesh = Mesh(2)
        var gate = HeatGate()
        mesh.nodes[0].temperatureCelsius = 81
        gate.observe(mesh.nodes, now: .s(0))
        mesh.hot = gate.hot
        mesh.workloads = [WorkloadSpec(name: "web", command: ["x"], count: 2)]
        mesh.settle()
        #expect(mesh.nodesOf("web") == [1, 1])

        mesh.nodes[0].temperatureCelsius = 75          // below hot, above cool: still hot
        gate.observe(mesh.nodes, now: .s(10))
        #expect(gate.hot == [Mesh.id(0)])
        mesh.nodes[0].temperatureCelsius = 69
        mesh.nodes[1].throttled = true
        let change = gate.observe(mesh.nodes, now: .s(20))
        #expect(change.cooled == [Mesh.id(0)] && change.heated == [Mesh.id(1)])
        mesh.hot = gate.hot
        mesh.workloads[0].count = 3
        mesh.settle()
        #expect(mesh.nodesOf("web") == [0, 1, 1], "instances on a hot node keep running; the new one goes to the cool node")
    }

    @Test func throttlingHeatsANodeAndItCoolsOnlyAfterReportingNoneForAWhile() {
        let settings = SchedulerSettings(throttleClearAfter: .seconds(60))
        var nodes = Mesh(2).nodes
        var gate = HeatGate()
        func step(_ at: Int64, _ view: [SchedulerNode]? = nil) -> (heated: [NodeID], cooled: [NodeID]) {
            gate.observe(view ?? nodes, now: .s(at), settings: settings)
        }
        nodes[0].throttled = true                                      // cool, but throttled (a weak supply, say)
        #expect(step(0).heated == [Mesh.id(0)])
        nodes[0].throttled = false
        var change = step(30)
        #expect(change.cooled.isEmpty, "30 s unthrottled: still hot")
        nodes[0].throttled = true                                      // throttles again: the clock starts over
        _ = step(40)
        nodes[0].throttled = false
        change = step(90)
        #expect(change.cooled.isEmpty, "50 s since the last throttling")
        change = step(100)
        #expect(change.cooled == [Mesh.id(0)])
        #expect(gate.hot.isEmpty)
        // A node hot by temperature alone cools by temperature alone (no waiting).
        nodes[1].temperatureCelsius = 85
        _ = step(101)
        nodes[1].temperatureCelsius = 65
        change = step(102)
        #expect(change.cooled == [Mesh.id(1)])
        // A node that leaves the view leaves the gate.
        nodes[0].throttled = true
        _ = step(103)
        _ = step(104, [nodes[1]])
        #expect(gate.hot.isEmpty)
    }

    @Test func aNodeThatSeesNoMajorityOfVotersStopsOnlyWhatAsksAfterItsDelay() {
        var watch = DisconnectWatch()
        let stops = WorkloadSpec(name: "web", command: ["x"], stopAfterDisconnect: .seconds(10))
        let keeps = WorkloadSpec(name: "db", command: ["x"])
        func see(_ reachable: Int, of voters: Int, at: Int64) -> DisconnectWatch.Change? {
            watch.observe(reachableVoters: reachable, voters: voters, now: .s(at))
        }
        var change = see(1, of: 3, at: 0)
        #expect(change == nil, "just started, the others not heard from yet: not armed")
        #expect(!watch.armed)
        change = see(3, of: 3, at: 0)
        #expect(change == nil && watch.armed)
        change = see(2, of: 3, at: 1)
        #expect(change == nil, "2 of 3 is a majority")
        change = see(1, of: 3, at: 5)
        #expect(change == .disconnected)
        change = see(0, of: 3, at: 6)
        #expect(change == nil, "still disconnected since 5 s")
        #expect(!watch.mustStop(stops, now: .s(14)))
        #expect(watch.nextDue([stops, keeps], now: .s(14)) == .s(15))
        #expect(watch.mustStop(stops, now: .s(15)))
        #expect(!watch.mustStop(keeps, now: .s(1_000)), "no stop_after_disconnect: the minority keeps running it")
        #expect(watch.nextDue([stops], now: .s(15)) == nil, "nothing left to fall due")
        change = see(2, of: 3, at: 20)
        #expect(change == .reconnected(after: .seconds(15)))
        #expect(!watch.mustStop(stops, now: .s(100)))
        // Two of four is no majority; an unknown voter set is never a disconnection.
        #expect(!DisconnectWatch.seesMajority(reachable: 2, voters: 4))
        #expect(DisconnectWatch.seesMajority(reachable: 0, voters: 0))
        #expect(DisconnectWatch.seesMajority(reachable: 1, voters: 1))
    }

    @Test func aCrashLoopMovesTheInstanceAvoidsTheNodeThenFailsTheSlot() throws {
        var mesh = Mesh(3)
        mesh.workloads = [WorkloadSpec(name: "bad", command: ["false"], count: 1)]
        mesh.settle()
        for move in 1 ... 3 {
            let p = try #require(mesh.placements.first)
            mesh.crashLoops.append(CrashLoop(slot: p.slot, node: p.node, at: .s(Int64(move))))
            let plan = mesh.plan(at: .s(Int64(move)))
            #expect(plan.stop.map(\.reason) == [.crashLoop])
            if move < 3 {
                let placed = try #require(plan.place.first)
                #expect(!mesh.crashLoops.map(\.node).contains(placed.node), "a node that crash-looped is avoided")
            } else {
                #expect(plan.place.isEmpty)
                #expect(plan.pending.map(\.reason) == ["failed: restarts exhausted on 3 nodes"])
            }
            mesh.commit(plan, at: .s(Int64(move)))
        }
    }

    @Test func thePlanDoesNotDependOnTheOrderNodesAndPlacementsArrive() {
        var mesh = Mesh(50)
        for i in 0 ..< 50 { mesh.nodes[i].tags["rack"] = "r\(i % 4)" }
        mesh.workloads = (0 ..< 20).map { WorkloadSpec(name: "w\($0)", command: ["x"], count: 1 + $0 % 7,
                                                         resources: .init(cpuMillicores: 100 * ($0 % 5), memoryMB: 64)) }
        mesh.settle()
        mesh.nodes[7].reachability = .unreachable(since: .zero)
        mesh.workloads[3].count = 9
        let a = mesh.plan(at: .s(100))
        var shuffled = mesh
        shuffled.nodes.reverse()
        shuffled.placements.reverse()
        #expect(shuffled.plan(at: .s(100)) == a)
    }

    @Test func explainListsCandidatesInPickOrderAndWhyTheRestAreOut() throws {
        var mesh = Mesh(3)
        mesh.nodes[0].arch = "aarch64"
        mesh.nodes[2].reachability = .unreachable(since: .zero)
        mesh.workloads = [WorkloadSpec(name: "web", command: ["x"], count: 1, constraints: [try Constraint.parse("arch!=aarch64")])]
        let verdicts = try #require(Scheduler.explain("web", mesh.input, now: .s(1)))
        #expect(verdicts.map(\.name) == ["n1", "n0", "n2"])
        #expect(verdicts[0].excluded == nil && verdicts[0].roomAfter != nil)
        #expect(verdicts[1].excluded == .constraint(try Constraint.parse("arch!=aarch64")))
        #expect(verdicts[2].excluded == .notAlive)
        #expect(Scheduler.explain("nope", mesh.input, now: .zero) == nil)
    }
}

struct SpecTests {
    @Test func badSpecsAreRefusedWithAClearReason() {
        func refusal(_ spec: WorkloadSpec) -> SpecError? {
            do { try spec.validate(); return nil } catch { return error }
        }
        #expect(refusal(WorkloadSpec(name: "web", command: ["x"])) == nil)
        #expect(refusal(WorkloadSpec(name: "web.1", command: ["x"])) == .badName("web.1"))
        #expect(refusal(WorkloadSpec(name: "web", command: [])) == .emptyCommand)
        #expect(refusal(WorkloadSpec(name: "web", command: [""])) == .emptyCommand)
        #expect(refusal(WorkloadSpec(name: "web", command: ["x"], count: -1)) == .badCount(-1, max: 1_000))
        #expect(refusal(WorkloadSpec(name: "web", command: ["x"], count: 1_000_000)) == .badCount(1_000_000, max: 1_000))
        #expect(refusal(WorkloadSpec(name: "web", command: ["x", "{{nope}}"])) == .unknownTemplateVariable("nope"))
        #expect(refusal(WorkloadSpec(name: "web", command: ["x", "{{instance"])) == .unclosedTemplate("{{instance"))
        #expect(refusal(WorkloadSpec(name: "web", command: ["x"], restart: "sometimes")) == .badRestart("sometimes"))
        #expect(refusal(WorkloadSpec(name: "web", command: ["x"], source: .init(url: "not a url"))) == .badSource("not a url"))
        #expect(refusal(WorkloadSpec(name: "web", command: ["x"], source: .init(url: "file:///srv/repo.git"))) == nil)
        #expect(refusal(WorkloadSpec(name: "web", command: ["x"], source: .init(url: "git@host:me/repo.git", ref: "main"))) == nil)
        #expect(refusal(WorkloadSpec(name: "web", command: ["x"], environment: ["A=B": "c"])) == .badEnvironment("A=B"))
        let repo = WorkloadSpec.Source(url: "file:///srv/repo.git", ref: "v1")
        #expect(refusal(WorkloadSpec(name: "web", command: ["x"], source: .init(url: "-upload-pack=evil"))) == .badSource("-upload-pack=evil"))
        #expect(refusal(WorkloadSpec(name: "web", command: ["x"], source: .init(url: "https://"))) == .badSource("https://"))
        #expect(refusal(WorkloadSpec(name: "web", command: ["x"], source: .init(url: "file:///srv/r.git", ref: "--force"))) == .badSource("--force"))
        #expect(refusal(WorkloadSpec(name: "web", command: ["x"], workingDirectory: "app/bin", source: repo)) == nil)
        #expect(refusal(WorkloadSpec(name: "web", command: ["x"], workingDirectory: "/srv", source: repo)) == .badSourceDirectory("/srv"))
        #expect(refusal(WorkloadSpec(name: "web", command: ["x"], workingDirectory: "a/../..", source: repo)) == .badSourceDirectory("a/../.."))
        #expect(SpecError.badSourceDirectory("/srv").reason == "bad_source")
        #expect(refusal(WorkloadSpec(name: "web", command: ["x"], stopAfterDisconnect: .seconds(-1))) == .badDuration("stop_after_disconnect"))
        #expect(SpecError.badName("web.1").description.contains("letters"))
    }

    @Test func constraintsParseAndRefuseNonsense() throws {
        #expect(try Constraint.parse("arch=aarch64") == Constraint("arch", .equals("aarch64")))
        #expect(try Constraint.parse("name!=pi3") == Constraint("name", .notEquals("pi3")))
        #expect(try Constraint.parse("zone in a,b") == Constraint("zone", .inSet(["a", "b"])))
        for bad in ["arch", "=x", "arch=", "a b=c", "zone in ", "zone in a,,b"] {
            #expect(throws: SpecError.self, "\(bad)") { try Constraint.parse(bad) }
        }
    }

    @Test func templatesExpandPerInstance() {
        let c = Template.Context(instance: 2, node: "pi4", workload: "chat", peers: ["10.0.0.1:9000", "10.0.0.2:9000"])
        #expect(Template.expand("--id={{instance}} --on {{ node }} {{name}}", c) == "--id=2 --on pi4 chat.2")
        #expect(Template.expand("--peers={{peers}}", c) == "--peers=10.0.0.1:9000,10.0.0.2:9000")
        #expect(Template.expand("no variables", c) == "no variables")
    }

    @Test func meshVariablesExpandAndAreCheckedAtSubmission() throws {
        let c = Template.Context(instance: 0, node: "pi4", workload: "db", peers: [], vars: ["db/url": "postgres://x", "port": "5432"])
        #expect(Template.expand("--url={{var:db/url}} --port={{ var:port }}", c) == "--url=postgres://x --port=5432")
        #expect(Template.expand("[{{var:missing}}]", c) == "[]")              // not set: empty
        try Template.check("{{var:db/url}}")
        for bad in ["{{var:}}", "{{var:a b}}", "{{vars:x}}", "{{var:" + String(repeating: "k", count: 257) + "}}"] {
            #expect(throws: SpecError.self, "\(bad.prefix(20))") { try Template.check(bad) }
        }
        // Environment values are templates too, checked the same way.
        var spec = WorkloadSpec(name: "db", command: ["sleep", "1"], environment: ["URL": "{{var:db/url}}"])
        try spec.validate()
        spec.environment["BAD"] = "{{nope}}"
        #expect(throws: SpecError.self) { try spec.validate() }
    }
}
