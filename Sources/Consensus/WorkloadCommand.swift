import MeshCore
import MeshWire
import Scheduler

/// A command on the scheduler's part of the control state (`ControlCommand.Operation.workload`).
///
/// Users submit, scale, stop, restart and remove workloads (through the API, on any node);
/// the leader's scheduling loop applies plans; nodes report crash loops and finished
/// rolling restarts. Each is one Raft entry, applied in log order on every replica.
public enum WorkloadCommand: Sendable, Equatable {
    /// A new workload (refused when the name is in use).
    case submit(WorkloadSpec)
    /// A new instance count.
    case scale(name: String, count: Int)
    /// Count 0, the spec kept (Nomad's `job stop` without purge); `scale` brings it back.
    case stop(name: String)
    /// The spec goes; the next plan stops every placement of it.
    case remove(name: String)
    /// A rolling restart: the workload's restart generation rises; nodes restart its
    /// instances one at a time, in placement order (`WorkloadState.mayRestart`).
    case restart(name: String)
    /// The leader's plan: new placements (ids handed out in commit order) and stops.
    case applyPlan(PlanCommand)
    /// The instance of this placement exhausted its restarts on its node (reported by
    /// that node, at its wall time).
    case crashLoop(placement: PlacementID, at: MeshTime)
    /// The node restarted this placement's instance for `generation` (rolling restart).
    case restarted(placement: PlacementID, generation: UInt64)
    /// The node stopped this placement's instance itself (`stop_after_disconnect`: it saw
    /// no majority of voters for that long) and reports it once it sees one again: the
    /// placement goes, with the reason, and the next plan places the slot afresh if no
    /// replacement runs.
    case released(placement: PlacementID, reason: String)
    /// The process of this placement's instance runs since `since` (the node's wall time
    /// of the kernel's process start), for `on_heal: longest_running`; sent when a node
    /// starts or adopts one and the state holds another time.
    case running(placement: PlacementID, since: MeshTime)

    /// The workload it is about, for events and logs (nil for a plan).
    public var workloadName: String? {
        switch self {
        case let .submit(spec): spec.name
        case let .scale(name, _), let .stop(name), let .remove(name), let .restart(name): name
        case .applyPlan, .crashLoop, .restarted, .released, .running: nil
        }
    }

    /// The event kind suffix: `control.workload.<verb>`.
    public var verb: String {
        switch self {
        case .submit: "submitted"
        case .scale: "scaled"
        case .stop: "stopped"
        case .remove: "removed"
        case .restart: "restart"
        case .applyPlan: "plan"
        case .crashLoop: "crash_loop"
        case .restarted: "restarted"
        case .released: "released"
        case .running: "running"
        }
    }
}

/// A plan as committed: computed by the leader from the state at `basedOn`, refused when
/// the workload state changed since (optimistic concurrency: the next round plans again).
public struct PlanCommand: Sendable, Equatable {
    public struct Stop: Sendable, Equatable {
        public var placement: PlacementID
        public var reason: String
        public init(placement: PlacementID, reason: String) { self.placement = placement; self.reason = reason }
    }

    /// `WorkloadState.version` the plan was made from.
    public var basedOn: LogIndex
    /// The leader's wall time, the `placedAt` of the new placements.
    public var at: MeshTime
    public var places: [SchedulerPlan.Place]
    public var stops: [Stop]

    public init(basedOn: LogIndex, at: MeshTime, places: [SchedulerPlan.Place], stops: [Stop]) {
        self.basedOn = basedOn; self.at = at; self.places = places; self.stops = stops
    }
}

/// Limits of the workload part of the control state.
public enum WorkloadLimits {
    /// Places and stops in one plan command: a round with more commits the rest next round.
    public static let maxPlanItems = 4_096
    /// Placements a state holds (a snapshot with more does not decode).
    public static let maxPlacements = 100_000
    /// Crash loops remembered (the oldest go first).
    public static let maxCrashLoops = 1_024
    /// Stops remembered with their reasons (`meshctl why`, the node's stop event).
    public static let maxRecentStops = 256
    /// Bytes of a stop reason.
    public static let maxReasonBytes = 256
}

// MARK: Binary codec

extension WorkloadCommand {
    func encode(into w: inout ByteWriter) {
        switch self {
        case let .submit(spec): w.write(UInt8(1)); spec.encode(into: &w)
        case let .scale(name, count): w.write(UInt8(2)); w.write(name); w.write(Int64(count))
        case let .stop(name): w.write(UInt8(3)); w.write(name)
        case let .remove(name): w.write(UInt8(4)); w.write(name)
        case let .restart(name): w.write(UInt8(5)); w.write(name)
        case let .applyPlan(plan):
            w.write(UInt8(6)); w.write(plan.basedOn.value); w.write(plan.at.nanoseconds)
            w.writeList(plan.places) { w, p in
                p.slot.encode(into: &w); w.write(p.node); w.write(p.replaces?.value ?? 0)
            }
            w.writeList(plan.stops) { w, s in w.write(s.placement.value); w.write(s.reason) }
        case let .crashLoop(placement, at): w.write(UInt8(7)); w.write(placement.value); w.write(at.nanoseconds)
        case let .restarted(placement, generation): w.write(UInt8(8)); w.write(placement.value); w.write(generation)
        case let .released(placement, reason): w.write(UInt8(9)); w.write(placement.value); w.write(reason)
        case let .running(placement, since): w.write(UInt8(10)); w.write(placement.value); w.write(since.nanoseconds)
        }
    }

    static func decode(from r: inout ByteReader) throws(WireError) -> WorkloadCommand {
        let name = { (r: inout ByteReader) throws(WireError) -> String in try r.readString(limit: WorkloadSpec.maxNameBytes) }
        switch try r.readUInt8() {
        case 1: return .submit(try WorkloadSpec(decoding: &r))
        case 2: return .scale(name: try name(&r), count: Int(clamping: try r.readInt64()))
        case 3: return .stop(name: try name(&r))
        case 4: return .remove(name: try name(&r))
        case 5: return .restart(name: try name(&r))
        case 6:
            let basedOn = LogIndex(try r.readUInt64()), at = MeshTime(nanoseconds: try r.readInt64())
            let places = try r.readList(limit: WorkloadLimits.maxPlanItems, minElementBytes: 48) { (r: inout ByteReader) throws(WireError) in
                let slot = try InstanceSlot(decoding: &r), node = try r.readNodeID(), replaces = try r.readUInt64()
                return SchedulerPlan.Place(slot: slot, node: node, replaces: replaces == 0 ? nil : PlacementID(replaces))
            }
            let stops = try r.readList(limit: WorkloadLimits.maxPlanItems, minElementBytes: 12) { (r: inout ByteReader) throws(WireError) in
                PlanCommand.Stop(placement: PlacementID(try r.readUInt64()), reason: try r.readString(limit: WorkloadLimits.maxReasonBytes))
            }
            return .applyPlan(PlanCommand(basedOn: basedOn, at: at, places: places, stops: stops))
        case 7: return .crashLoop(placement: PlacementID(try r.readUInt64()), at: MeshTime(nanoseconds: try r.readInt64()))
        case 8: return .restarted(placement: PlacementID(try r.readUInt64()), generation: try r.readUInt64())
        case 9: return .released(placement: PlacementID(try r.readUInt64()), reason: try r.readString(limit: WorkloadLimits.maxReasonBytes))
        case 10: return .running(placement: PlacementID(try r.readUInt64()), since: MeshTime(nanoseconds: try r.readInt64()))
        case let t: throw .malformed("workload command tag \(t)")
        }
    }
}

extension InstanceSlot {
    func encode(into w: inout ByteWriter) { w.write(workload); w.write(UInt32(clamping: instance)) }
    init(decoding r: inout ByteReader) throws(WireError) {
        self.init(try r.readString(limit: WorkloadSpec.maxNameBytes), Int(try r.readUInt32()))
    }
}

extension WorkloadSpec {
    /// Bytes of a workload name on the wire (validation allows 64).
    static let maxNameBytes = 64

    /// Every field, in a fixed order; optional ones behind a presence byte. Counts and
    /// resources travel signed, so a negative one decodes and is refused by `validate`.
    func encode(into w: inout ByteWriter) {
        w.write(name)
        w.writeList(command) { w, a in w.write(a) }
        w.write(environment)
        w.write(workingDirectory != nil); if let d = workingDirectory { w.write(d) }
        w.write(Int64(count)); w.write(Int64(resources.cpuMillicores)); w.write(Int64(resources.memoryMB))
        w.writeList(constraints) { w, c in
            w.write(c.attribute)
            switch c.op {
            case let .equals(v): w.write(UInt8(1)); w.write(v)
            case let .notEquals(v): w.write(UInt8(2)); w.write(v)
            case let .inSet(vs): w.write(UInt8(3)); w.writeList(vs) { w, v in w.write(v) }
            }
        }
        w.write(strategy.rawValue); w.write(restart)
        for d in [rescheduleAfter, stopAfterDisconnect] {
            w.write(d != nil); if let d { w.write(d.nanoseconds) }
        }
        w.write(onHeal.rawValue); w.write(restartOnPeerChange)
        w.write(source != nil); if let s = source { w.write(s.url); w.write(s.ref) }
    }

    init(decoding r: inout ByteReader, settings: SchedulerSettings = .standard) throws(WireError) {
        let field = settings.maxFieldBytes
        let name = try r.readString(limit: Self.maxNameBytes)
        let command = try r.readList(limit: settings.maxArguments) { (r: inout ByteReader) throws(WireError) in try r.readString(limit: field) }
        let environment = try r.readStringMap(limit: settings.maxEnvironment)
        let dir = try r.readBool() ? try r.readString(limit: field) : nil
        let count = Int(clamping: try r.readInt64())
        let resources = Resources(cpuMillicores: Int(clamping: try r.readInt64()), memoryMB: Int(clamping: try r.readInt64()))
        let constraints = try r.readList(limit: settings.maxConstraints) { (r: inout ByteReader) throws(WireError) -> Constraint in
            let attribute = try r.readString(limit: 64)
            switch try r.readUInt8() {
            case 1: return Constraint(attribute, .equals(try r.readString(limit: field)))
            case 2: return Constraint(attribute, .notEquals(try r.readString(limit: field)))
            case 3: return Constraint(attribute, .inSet(try r.readList(limit: settings.maxArguments) { (r: inout ByteReader) throws(WireError) in try r.readString(limit: field) }))
            case let t: throw .malformed("constraint operator \(t)")
            }
        }
        guard let strategy = Strategy(rawValue: try r.readString(limit: 16)) else { throw .malformed("workload strategy") }
        let restart = try r.readString(limit: 32)
        var durations: [Duration?] = []
        for _ in 0 ..< 2 { durations.append(try r.readBool() ? .nanoseconds(try r.readInt64()) : nil) }
        guard let onHeal = OnHeal(rawValue: try r.readString(limit: 32)) else { throw .malformed("workload on_heal") }
        let restartOnPeerChange = try r.readBool()
        let source = try r.readBool() ? Source(url: try r.readString(limit: field), ref: try r.readString(limit: field)) : nil
        self.init(name: name, command: command, environment: environment, workingDirectory: dir, count: count,
                  resources: resources, constraints: constraints, strategy: strategy, restart: restart,
                  rescheduleAfter: durations[0], stopAfterDisconnect: durations[1], onHeal: onHeal,
                  restartOnPeerChange: restartOnPeerChange, source: source)
    }
}
