@testable import Consensus
import MeshCore
import MeshWire
import Scheduler
import Testing

/// The scheduler's commands on the replicated control state: applied in log order, ids
/// handed out in commit order, stale plans refused, and all of it kept by snapshots.
struct WorkloadStateTests {
    var state = ControlState()
    var index: UInt64 = 0

    mutating func apply(_ c: WorkloadCommand) -> ControlResult {
        index += 1
        return state.apply(LogEntry(term: Term(1), index: LogIndex(index),
                                    command: ControlCommand(.workload(c), requester: "local", via: rid(9)).encoded))
    }

    static let web = WorkloadSpec(name: "web", command: ["sleep", "{{instance}}"], environment: ["A": "1"], workingDirectory: "/tmp",
                                  count: 2, resources: .init(cpuMillicores: 100, memoryMB: 64),
                                  constraints: [Constraint("zone", .inSet(["a", "b"])), Constraint("arch", .notEquals("x"))],
                                  strategy: .binpack, rescheduleAfter: .seconds(3), onHeal: .keepOriginal, restartOnPeerChange: true)

    func plan(_ places: [(Int, Int, UInt64?)], stops: [UInt64] = [], at: Int64 = 5) -> WorkloadCommand {
        .applyPlan(PlanCommand(basedOn: state.workloads.version, at: MeshTime(nanoseconds: at),
                               places: places.map { .init(slot: InstanceSlot("web", $0.0), node: rid($0.1), replaces: $0.2.map(PlacementID.init)) },
                               stops: stops.map { .init(placement: PlacementID($0), reason: "scaled down") }))
    }

    @Test mutating func commandsRoundTripTheirBinaryCodec() throws {
        let commands: [WorkloadCommand] = [
            .submit(Self.web), .scale(name: "web", count: 5), .stop(name: "web"), .remove(name: "web"), .restart(name: "web"),
            .crashLoop(placement: PlacementID(3), at: MeshTime(nanoseconds: 42)), .restarted(placement: PlacementID(3), generation: 2),
            .released(placement: PlacementID(4), reason: "no majority of voters in sight for 10 s"),
            .running(placement: PlacementID(5), since: MeshTime(nanoseconds: 1_700_000_000_000_000_000)),
            plan([(0, 1, nil), (1, 2, 7)], stops: [4]),
        ]
        for c in commands {
            let command = ControlCommand(.workload(c), requester: "token:abc", via: rid(2))
            #expect(try ControlCommand.decode(command.encoded) == command)
        }
        // A negative count decodes, and is refused before anything is proposed.
        let negative = ControlCommand(.workload(.scale(name: "web", count: -1)), requester: "local", via: rid(1))
        #expect(ControlState.validate(try ControlCommand.decode(negative.encoded).operation) != nil)
        // Truncated and unknown tags are typed errors.
        #expect(throws: WireError.self) { try ControlCommand.decode(Array(ControlCommand(.workload(.submit(Self.web)), requester: "", via: rid(1)).encoded.dropLast(40))) }
        #expect(throws: WireError.self) { try ControlCommand.decode([3, 99]) }
    }

    @Test mutating func submitScaleStopRemoveAndNameInUse() {
        #expect(apply(.submit(Self.web)) == .ok)
        if case .refused(let why) = apply(.submit(Self.web)) { #expect(why.contains("exists")) } else { Issue.record("a name in use was accepted") }
        #expect(apply(.scale(name: "web", count: 4)) == .ok)
        #expect(state.workloads.workloads["web"]?.spec.count == 4)
        #expect(apply(.stop(name: "web")) == .ok)
        #expect(state.workloads.workloads["web"]?.spec.count == 0)    // stop keeps the spec
        if case .refused = apply(.scale(name: "nope", count: 1)) {} else { Issue.record("scaled an unknown workload") }
        var bad = Self.web; bad.name = "db"; bad.command = ["x", "{{nope}}"]
        if case .refused = apply(.submit(bad)) {} else { Issue.record("an unknown template variable was accepted") }
        #expect(apply(.remove(name: "web")) == .ok)
        #expect(state.workloads.workloads.isEmpty)
    }

    @Test mutating func placementIDsFollowCommitOrderAndStalePlansAreRefused() {
        _ = apply(.submit(Self.web))
        let first = plan([(0, 1, nil), (1, 2, nil)])
        let raced = plan([(0, 3, nil)])       // made from the same version
        #expect(apply(first) == .ok)
        #expect(state.workloads.placementList.map(\.id) == [PlacementID(1), PlacementID(2)])
        #expect(state.workloads.placementList.map(\.node) == [rid(1), rid(2)])
        if case .refused(let why) = apply(raced) { #expect(why.contains("stale")) } else { Issue.record("a stale plan applied") }
        #expect(apply(plan([(1, 3, 2)], stops: [2])) == .ok)
        #expect(state.workloads.placementList.map(\.id) == [PlacementID(1), PlacementID(3)])
        #expect(state.workloads.placements[PlacementID(3)]?.placement.replaces == PlacementID(2))
        #expect(state.workloads.recentStops.map(\.placement) == [PlacementID(2)])
    }

    @Test mutating func rollingRestartGoesOnePlacementAtATimeInIDOrder() {
        _ = apply(.submit(Self.web))
        _ = apply(plan([(0, 1, nil), (1, 2, nil)]))
        #expect(!state.workloads.mayRestart(PlacementID(1)))
        #expect(apply(.restart(name: "web")) == .ok)
        #expect(state.workloads.mayRestart(PlacementID(1)) && !state.workloads.mayRestart(PlacementID(2)))
        #expect(apply(.restarted(placement: PlacementID(1), generation: 1)) == .ok)
        #expect(!state.workloads.mayRestart(PlacementID(1)) && state.workloads.mayRestart(PlacementID(2)))
        _ = apply(.restarted(placement: PlacementID(2), generation: 1))
        #expect(!state.workloads.mayRestart(PlacementID(2)))
    }

    @Test mutating func crashLoopsAreRecordedOncePerPlacement() {
        _ = apply(.submit(Self.web))
        _ = apply(plan([(0, 1, nil)]))
        #expect(apply(.crashLoop(placement: PlacementID(1), at: MeshTime(nanoseconds: 9))) == .ok)
        #expect(apply(.crashLoop(placement: PlacementID(1), at: MeshTime(nanoseconds: 10))) == .ok)
        #expect(state.workloads.crashLoops == [CrashLoop(slot: InstanceSlot("web", 0), node: rid(1), at: MeshTime(nanoseconds: 9))])
        if case .refused = apply(.crashLoop(placement: PlacementID(77), at: .zero)) {} else { Issue.record("a crash loop of no placement") }
    }

    @Test mutating func aReleasedPlacementGoesWithItsReasonAndAgainIsANoOp() {
        _ = apply(.submit(Self.web))
        _ = apply(plan([(0, 1, nil), (1, 2, nil)]))
        let version = state.workloads.version
        #expect(apply(.released(placement: PlacementID(1), reason: "no majority of voters in sight for 10 s (stop_after_disconnect)")) == .ok)
        #expect(state.workloads.placementList.map(\.id) == [PlacementID(2)])
        #expect(state.workloads.recentStops.last?.reason.contains("stop_after_disconnect") == true)
        #expect(state.workloads.version > version, "a plan made before the release is stale")
        #expect(apply(.released(placement: PlacementID(1), reason: "again")) == .ok, "a report sent twice changes nothing")
        #expect(state.workloads.recentStops.count == 1)
        let long = String(repeating: "x", count: WorkloadLimits.maxReasonBytes + 1)
        #expect(ControlState.validate(.workload(.released(placement: PlacementID(2), reason: long))) != nil)
    }

    @Test mutating func processStartTimesAreKeptPerPlacementAndDoNotStaleAPlan() {
        _ = apply(.submit(Self.web))
        _ = apply(plan([(0, 1, nil)]))
        let version = state.workloads.version
        #expect(apply(.running(placement: PlacementID(1), since: MeshTime(nanoseconds: 77))) == .ok)
        #expect(state.workloads.startedAt == [PlacementID(1): MeshTime(nanoseconds: 77)])
        #expect(state.workloads.version == version)
        if case .refused = apply(.running(placement: PlacementID(9), since: .zero)) {} else { Issue.record("a start time of no placement") }
    }

    @Test mutating func snapshotsKeepTheWholeWorkloadState() throws {
        _ = apply(.submit(Self.web))
        _ = apply(plan([(0, 1, nil), (1, 2, nil)]))
        _ = apply(plan([(1, 3, 2)], stops: [2]))
        _ = apply(.restart(name: "web"))
        _ = apply(.crashLoop(placement: PlacementID(1), at: MeshTime(nanoseconds: 9)))
        _ = apply(.running(placement: PlacementID(3), since: MeshTime(nanoseconds: 1234)))
        let restored = try ControlState(snapshot: state.snapshot)
        #expect(restored == state)
        #expect(restored.snapshot == state.snapshot)
        #expect(restored.workloads.startedAt == [PlacementID(3): MeshTime(nanoseconds: 1234)])
        // A snapshot written before the scheduler existed (variables only) still decodes.
        var w = ByteWriter(); w.write(UInt64(4)); w.write(UInt32(0))
        #expect(try ControlState(snapshot: w.bytes).workloads == WorkloadState())
    }
}
