import MeshCore
import MeshWire
import Scheduler

/// A workload as the control state holds it.
public struct WorkloadRecord: Sendable, Equatable {
    public var spec: WorkloadSpec
    /// Submission order (first come, first placed).
    public var order: UInt64
    /// Raised by each `restart`; a placement whose generation is lower is restarted.
    public var generation: UInt64
    /// The log index that submitted it.
    public var submitted: LogIndex
}

/// A committed placement with what the nodes need beyond the scheduler's `Placement`.
public struct PlacementRecord: Sendable, Equatable {
    public var placement: Placement
    /// The restart generation its instance runs at (a new placement: the workload's).
    public var generation: UInt64
    /// The log index that placed it (`meshctl why`: what last moved the slot).
    public var index: LogIndex
    /// When its instance's process started (wall time), as its node last reported it
    /// (`running`); nil before the first report.
    public var startedAt: MeshTime?
    public var id: PlacementID { placement.id }
}

/// A placement the leader stopped, with why (the node's `workload.stopped` event and
/// `meshctl why` name it).
public struct StopRecord: Sendable, Equatable {
    public var placement: PlacementID
    public var slot: InstanceSlot
    public var node: NodeID
    public var reason: String
    public var index: LogIndex
}

/// The scheduler's part of the replicated control state: workload specs in submission
/// order, committed placements (ids handed out in commit order, so one id is one decision
/// on every replica), crash loops, and the last stops. Pure and deterministic: applied in
/// log order on every replica, so all hold the same placements at the same index.
public struct WorkloadState: Sendable, Equatable {
    public private(set) var workloads: [String: WorkloadRecord] = [:]
    public private(set) var placements: [PlacementID: PlacementRecord] = [:]
    public private(set) var crashLoops: [CrashLoop] = []
    public private(set) var recentStops: [StopRecord] = []
    public private(set) var nextPlacement: UInt64 = 1
    public private(set) var nextOrder: UInt64 = 1
    /// The index of the last entry that changed what a plan depends on (specs, placements,
    /// crash loops): a plan made from an older version is refused.
    public private(set) var version = LogIndex.zero

    public init() {}

    /// Specs in submission order, for `SchedulerInput`.
    public var specs: [WorkloadSpec] { workloads.values.sorted { $0.order < $1.order }.map(\.spec) }

    /// Placements in id order.
    public var placementList: [Placement] { placements.values.map(\.placement).sorted { $0.id < $1.id } }

    /// The process start times the nodes reported, for `SchedulerInput.startedAt`.
    public var startedAt: [PlacementID: MeshTime] {
        var out: [PlacementID: MeshTime] = [:]
        for (id, r) in placements { if let t = r.startedAt { out[id] = t } }
        return out
    }

    /// Whether a node may restart this placement's instance now for its workload's rolling
    /// restart: its generation is behind, and every placement of the workload before it
    /// (in id order) has caught up, so one instance at a time is down.
    public func mayRestart(_ id: PlacementID) -> Bool {
        guard let p = placements[id], let w = workloads[p.placement.slot.workload], p.generation < w.generation else { return false }
        return !placements.values.contains {
            $0.placement.slot.workload == w.spec.name && $0.id < id && $0.generation < w.generation
        }
    }

    /// Checks what can be checked without the state, before anything is proposed.
    public static func validate(_ command: WorkloadCommand, settings: SchedulerSettings = .standard) -> String? {
        switch command {
        case let .submit(spec):
            do throws(SpecError) { try spec.validate(settings) } catch { return error.description }
            return nil
        case let .scale(name, count):
            guard WorkloadSpec.isValidName(name) else { return SpecError.badName(name).description }
            guard count >= 0, count <= settings.maxCount else { return SpecError.badCount(count, max: settings.maxCount).description }
            return nil
        case let .stop(name), let .remove(name), let .restart(name):
            return WorkloadSpec.isValidName(name) ? nil : SpecError.badName(name).description
        case let .applyPlan(plan):
            return plan.places.count + plan.stops.count <= WorkloadLimits.maxPlanItems ? nil
                : "a plan of \(plan.places.count + plan.stops.count) items; at most \(WorkloadLimits.maxPlanItems)"
        case let .released(_, reason):
            return reason.utf8.count <= WorkloadLimits.maxReasonBytes ? nil
                : "a release reason of \(reason.utf8.count) bytes; at most \(WorkloadLimits.maxReasonBytes)"
        case .crashLoop, .restarted, .running: return nil
        }
    }

    /// Applies one committed workload command at `index`.
    mutating func apply(_ command: WorkloadCommand, at index: LogIndex, settings: SchedulerSettings = .standard) -> ControlResult {
        if let why = Self.validate(command, settings: settings) { return .refused(why) }
        switch command {
        case let .submit(spec):
            guard workloads[spec.name] == nil else { return .refused("workload \(spec.name) exists; scale it, or rm it first") }
            guard workloads.count < settings.maxWorkloads else { return .refused("\(settings.maxWorkloads) workloads already; remove some first") }
            workloads[spec.name] = WorkloadRecord(spec: spec, order: nextOrder, generation: 0, submitted: index)
            nextOrder += 1
        case let .scale(name, count):
            guard workloads[name] != nil else { return .refused("no workload \(name)") }
            workloads[name]!.spec.count = count
        case let .stop(name):
            guard workloads[name] != nil else { return .refused("no workload \(name)") }
            workloads[name]!.spec.count = 0
        case let .remove(name):
            guard workloads.removeValue(forKey: name) != nil else { return .refused("no workload \(name)") }
            crashLoops.removeAll { $0.slot.workload == name }
        case let .restart(name):
            guard workloads[name] != nil else { return .refused("no workload \(name)") }
            workloads[name]!.generation += 1
            return .ok    // changes nothing a plan depends on
        case let .applyPlan(plan):
            guard plan.basedOn == version else {
                return .refused("stale plan: made at version \(plan.basedOn), the workloads changed at \(version)")
            }
            for s in plan.stops {
                guard let p = placements.removeValue(forKey: s.placement) else { continue }
                recentStops.append(StopRecord(placement: p.id, slot: p.placement.slot, node: p.placement.node,
                                              reason: String(s.reason.prefix(WorkloadLimits.maxReasonBytes)), index: index))
            }
            if recentStops.count > WorkloadLimits.maxRecentStops { recentStops.removeFirst(recentStops.count - WorkloadLimits.maxRecentStops) }
            for place in plan.places {
                let id = PlacementID(nextPlacement)
                nextPlacement += 1
                let generation = workloads[place.slot.workload]?.generation ?? 0
                placements[id] = PlacementRecord(placement: Placement(id: id, slot: place.slot, node: place.node,
                                                                      placedAt: plan.at, replaces: place.replaces),
                                                 generation: generation, index: index)
            }
        case let .crashLoop(id, at):
            guard let p = placements[id] else { return .refused("no placement \(id)") }
            guard !crashLoops.contains(where: { $0.slot == p.placement.slot && $0.node == p.placement.node && $0.at >= p.placement.placedAt })
            else { return .ok }   // already known: a node reports again after a restart
            crashLoops.append(CrashLoop(slot: p.placement.slot, node: p.placement.node, at: at))
            if crashLoops.count > WorkloadLimits.maxCrashLoops { crashLoops.removeFirst(crashLoops.count - WorkloadLimits.maxCrashLoops) }
        case let .restarted(id, generation):
            guard placements[id] != nil else { return .refused("no placement \(id)") }
            placements[id]!.generation = max(placements[id]!.generation, generation)
            return .ok
        case let .released(id, reason):
            guard let p = placements.removeValue(forKey: id) else { return .ok }   // already stopped by a plan
            recentStops.append(StopRecord(placement: id, slot: p.placement.slot, node: p.placement.node, reason: reason, index: index))
            if recentStops.count > WorkloadLimits.maxRecentStops { recentStops.removeFirst(recentStops.count - WorkloadLimits.maxRecentStops) }
        case let .running(id, since):
            guard placements[id] != nil else { return .refused("no placement \(id)") }
            placements[id]!.startedAt = since
            return .ok    // a plan made without it is still right; it only breaks heal ties better
        }
        version = index
        return .ok
    }

    // MARK: Snapshot

    /// The reported process start times, a section of its own after the rest of the
    /// control state (`ControlState.snapshot`): a snapshot written before it ends earlier.
    func encodeStartTimes(into w: inout ByteWriter) {
        let started = placementList.compactMap { p in placements[p.id]!.startedAt.map { (p.id, $0) } }
        w.writeList(started) { w, s in w.write(s.0.value); w.write(s.1.nanoseconds) }
    }

    mutating func decodeStartTimes(from r: inout ByteReader) throws(WireError) {
        let list = try r.readList(limit: WorkloadLimits.maxPlacements, minElementBytes: 16) { (r: inout ByteReader) throws(WireError) in
            (PlacementID(try r.readUInt64()), MeshTime(nanoseconds: try r.readInt64()))
        }
        for (id, at) in list where placements[id] != nil { placements[id]!.startedAt = at }
    }

    func encode(into w: inout ByteWriter) {
        w.write(nextPlacement); w.write(nextOrder); w.write(version.value)
        w.writeList(workloads.values.sorted { $0.order < $1.order }) { w, r in
            r.spec.encode(into: &w); w.write(r.order); w.write(r.generation); w.write(r.submitted.value)
        }
        w.writeList(placementList.map { placements[$0.id]! }) { w, r in
            let p = r.placement
            w.write(p.id.value); p.slot.encode(into: &w); w.write(p.node); w.write(p.placedAt.nanoseconds)
            w.write(p.replaces?.value ?? 0); w.write(r.generation); w.write(r.index.value)
        }
        w.writeList(crashLoops) { w, c in c.slot.encode(into: &w); w.write(c.node); w.write(c.at.nanoseconds) }
        w.writeList(recentStops) { w, s in
            w.write(s.placement.value); s.slot.encode(into: &w); w.write(s.node); w.write(s.reason); w.write(s.index.value)
        }
    }

    init(decoding r: inout ByteReader, settings: SchedulerSettings = .standard) throws(WireError) {
        nextPlacement = try r.readUInt64(); nextOrder = try r.readUInt64(); version = LogIndex(try r.readUInt64())
        let records = try r.readList(limit: settings.maxWorkloads) { (r: inout ByteReader) throws(WireError) in
            WorkloadRecord(spec: try WorkloadSpec(decoding: &r), order: try r.readUInt64(), generation: try r.readUInt64(),
                           submitted: LogIndex(try r.readUInt64()))
        }
        workloads = Dictionary(records.map { ($0.spec.name, $0) }, uniquingKeysWith: { _, last in last })
        let placed = try r.readList(limit: WorkloadLimits.maxPlacements, minElementBytes: 64) { (r: inout ByteReader) throws(WireError) in
            let id = PlacementID(try r.readUInt64()), slot = try InstanceSlot(decoding: &r), node = try r.readNodeID()
            let at = MeshTime(nanoseconds: try r.readInt64()), replaces = try r.readUInt64()
            return PlacementRecord(placement: Placement(id: id, slot: slot, node: node, placedAt: at,
                                                        replaces: replaces == 0 ? nil : PlacementID(replaces)),
                                   generation: try r.readUInt64(), index: LogIndex(try r.readUInt64()))
        }
        placements = Dictionary(placed.map { ($0.id, $0) }, uniquingKeysWith: { _, last in last })
        crashLoops = try r.readList(limit: WorkloadLimits.maxCrashLoops) { (r: inout ByteReader) throws(WireError) in
            CrashLoop(slot: try InstanceSlot(decoding: &r), node: try r.readNodeID(), at: MeshTime(nanoseconds: try r.readInt64()))
        }
        recentStops = try r.readList(limit: WorkloadLimits.maxRecentStops) { (r: inout ByteReader) throws(WireError) in
            StopRecord(placement: PlacementID(try r.readUInt64()), slot: try InstanceSlot(decoding: &r), node: try r.readNodeID(),
                       reason: try r.readString(limit: WorkloadLimits.maxReasonBytes), index: LogIndex(try r.readUInt64()))
        }
    }
}
