import Membership
import MeshCore

/// What every node believes about every other, mirrored from the `.changed` effects of the
/// cores (`view[observer × slots + subject]`, one byte each), and the measurements built on
/// it: detection and dissemination episodes, false positives, convergence, node-time.
///
/// Mirroring keeps the checks cheap (no member-table lookups on the hot path); at the end
/// of a run a sample of observers is audited against their cores' tables, so a core that
/// changes state without reporting it is caught.
struct Observations {
    /// View codes: what an observer believes about a subject.
    enum Code {
        static let unknown: UInt8 = 0, alive: UInt8 = 1, suspect: UInt8 = 2, dead: UInt8 = 3, left: UInt8 = 4

        static func of(_ status: MemberStatus?) -> UInt8 {
            switch status {
            case nil: unknown
            case .alive: alive
            case .suspect: suspect
            case .dead: dead
            case .left: left
            }
        }

        static func name(_ code: UInt8) -> String {
            ["unknown", "alive", "suspect", "dead", "left"][Int(code)]
        }
    }

    let slots: Int
    var view: [UInt8]
    /// Nodes whose beliefs count (running; not leaving, crashed or stopped).
    var observing: [Bool]
    let falsePositivePauseThreshold: Int64
    let falsePositiveWindow: Int64

    var episodes: [Episode] = []
    var openEpisode: [Int32]
    var openList: [Int32] = []
    var tracer: Tracer?

    var falsePositiveDeclarations = 0
    /// Distinct (member, incarnation) pairs wrongly declared dead.
    var falsePositiveEpisodes = Set<UInt64>()
    var firstFalsePositive: String?
    /// Dead verdicts excused by a partition (the two nodes could not reach each other).
    var partitionVerdicts = 0
    var partitionExcuseUntil: Int64 = 0
    var leavesSeenAsDead = 0

    var watches: [ConvergenceWatch] = []

    var measuredStart: Int64 = -1
    var nodeNanoseconds = 0.0
    var lastUpChange: Int64 = 0
    var upAtLastChange = 0

    init(slots: Int, falsePositivePauseThreshold: Int64, falsePositiveWindow: Int64) {
        self.slots = slots
        view = [UInt8](repeating: Code.unknown, count: slots * slots)
        observing = [Bool](repeating: false, count: slots)
        openEpisode = [Int32](repeating: -1, count: slots)
        self.falsePositivePauseThreshold = falsePositivePauseThreshold
        self.falsePositiveWindow = falsePositiveWindow
    }

    @inline(__always)
    func code(_ observer: Int, _ subject: Int) -> UInt8 { view[observer &* slots &+ subject] }

    // MARK: view changes

    /// Records that `observer` now believes `code` about `subject`; keeps episode counts.
    mutating func setView(_ observer: Int, _ subject: Int, _ code: UInt8, at now: Int64) {
        let i = observer &* slots &+ subject
        let old = view[i]
        guard old != code else { return }
        view[i] = code
        guard observing[observer], observer != subject else { return }
        let e = openEpisode[subject]
        guard e >= 0 else { return }
        let index = Int(e)
        let wasDone = episodes[index].isDone(old), isDone = episodes[index].isDone(code)
        guard wasDone != isDone else { return }
        episodes[index].pending += isDone ? -1 : 1
        if isDone, episodes[index].first < 0 { episodes[index].first = now }
        progress(index, at: now)
    }

    // MARK: node life

    mutating func nodeStarted(_ node: Int, at now: Int64, up: Int, restarted: Bool, measured: Bool) {
        clearRow(node)
        view[node &* slots &+ node] = Code.alive
        if openEpisode[node] >= 0 { abandon(Int(openEpisode[node])) }
        observing[node] = true
        for e in openList {
            let index = Int(e)
            guard episodes[index].subject != node else { continue }
            episodes[index].observers += 1
            if !episodes[index].isDone(Code.unknown) { episodes[index].pending += 1 }
        }
        if tracer != nil, tracer!.subject != node, tracer!.complete < 0 {
            tracer!.observers += 1
            tracer!.pending += 1
            tracer!.seen[node] = false
        }
        upCountChanged(at: now, up: up)
        if measured { openEpisode(restarted ? .rejoin : .join, subject: node, at: now) }
    }

    /// The node no longer observes (it crashed, stopped, or started leaving).
    mutating func stopObserving(_ node: Int, at now: Int64) {
        guard observing[node] else { return }
        observing[node] = false
        for e in openList {
            let index = Int(e)
            let subject = episodes[index].subject
            guard subject != node else { continue }
            episodes[index].observers -= 1
            if !episodes[index].isDone(code(node, subject)) { episodes[index].pending -= 1 }
        }
        var i = 0
        while i < openList.count {  // progress may close episodes
            let before = openList.count
            progress(Int(openList[i]), at: now)
            if openList.count == before { i += 1 }
        }
        if tracer != nil, tracer!.subject != node, tracer!.complete < 0 {
            tracer!.observers -= 1
            if !tracer!.seen[node] { tracer!.pending -= 1 }
            tracerProgress(at: now)
        }
    }

    mutating func nodeStopped(_ node: Int, at now: Int64, up: Int) {
        stopObserving(node, at: now)
        if openEpisode[node] >= 0, episodes[Int(openEpisode[node])].kind != .leave { abandon(Int(openEpisode[node])) }
        clearRow(node)
        upCountChanged(at: now, up: up)
    }

    mutating func nodeCrashed(_ node: Int, at now: Int64) {
        openEpisode(.crash, subject: node, at: now)
    }

    mutating func nodeLeaving(_ node: Int, at now: Int64) {
        stopObserving(node, at: now)
        openEpisode(.leave, subject: node, at: now)
    }

    private mutating func clearRow(_ node: Int) {
        let base = node &* slots
        for i in base ..< base + slots { view[i] = Code.unknown }
    }

    // MARK: episodes

    mutating func openEpisode(_ kind: Episode.Kind, subject: Int, at now: Int64) {
        if openEpisode[subject] >= 0 { abandon(Int(openEpisode[subject])) }
        var e = Episode(kind: kind, subject: subject, start: now)
        for o in 0 ..< slots where observing[o] && o != subject {
            e.observers += 1
            if !e.isDone(code(o, subject)) { e.pending += 1 }
        }
        episodes.append(e)
        let index = episodes.count - 1
        openEpisode[subject] = Int32(index)
        openList.append(Int32(index))
        progress(index, at: now)
    }

    private mutating func progress(_ index: Int, at now: Int64) {
        var e = episodes[index]
        guard e.complete < 0, !e.abandoned else { return }
        let extra = e.kind.subjectCounts ? 1 : 0
        let live = e.observers + extra, knowing = e.observers - e.pending + extra
        if e.reached999 < 0, knowing * 1000 >= 999 * live { e.reached999 = now }
        if e.pending <= 0 { e.complete = now }
        episodes[index] = e
        if e.complete >= 0 { close(index) }
    }

    private mutating func abandon(_ index: Int) {
        guard episodes[index].complete < 0 else { return }
        episodes[index].abandoned = true
        close(index)
    }

    private mutating func close(_ index: Int) {
        let subject = episodes[index].subject
        if openEpisode[subject] == Int32(index) { openEpisode[subject] = -1 }
        if let at = openList.firstIndex(of: Int32(index)) { openList.remove(at: at) }
    }

    // MARK: tracer (one metadata update's dissemination)

    mutating func startTracer(subject: Int, incarnation: Incarnation, at now: Int64) {
        var t = Tracer(subject: subject, incarnation: incarnation, start: now, seen: [Bool](repeating: false, count: slots))
        for o in 0 ..< slots where observing[o] && o != subject { t.observers += 1 }
        t.pending = t.observers
        tracer = t
        tracerProgress(at: now)
    }

    mutating func tracerSaw(_ observer: Int, incarnation: Incarnation, at now: Int64) {
        guard var t = tracer, t.complete < 0, observing[observer], observer != t.subject,
              incarnation >= t.incarnation, !t.seen[observer] else { return }
        t.seen[observer] = true
        t.pending -= 1
        tracer = t
        tracerProgress(at: now)
    }

    private mutating func tracerProgress(at now: Int64) {
        guard var t = tracer, t.complete < 0 else { return }
        let live = t.observers + 1, knowing = t.observers - t.pending + 1
        if t.reached999 < 0, knowing * 1000 >= 999 * live { t.reached999 = now }
        if t.pending <= 0 { t.complete = now }
        tracer = t
    }

    // MARK: partitions, convergence, node-time

    mutating func partitionHealed(at now: Int64) {
        partitionExcuseUntil = now + falsePositiveWindow
    }

    mutating func watchConvergence(_ kind: ConvergenceWatch.Kind, from now: Int64) {
        watches.append(ConvergenceWatch(kind: kind, start: now))
    }

    func isConverged(_ kind: ConvergenceWatch.Kind) -> Bool {
        watches.contains { $0.kind == kind && $0.converged >= 0 }
    }

    mutating func beginMeasuredPeriod(at now: Int64, upNodes: Int) {
        measuredStart = now
        nodeNanoseconds = 0
        lastUpChange = now
        upAtLastChange = upNodes
    }

    mutating func upCountChanged(at now: Int64, up: Int) {
        if measuredStart >= 0 { nodeNanoseconds += Double(now - lastUpChange) * Double(upAtLastChange) }
        lastUpChange = now
        upAtLastChange = up
    }
}

/// The spread of one fact through the mesh: a crash (observers marking the node dead), a
/// leave (marking it left), a join or rejoin (marking it alive).
struct Episode {
    enum Kind: UInt8 {
        case crash, leave, join, rejoin

        /// Whether the subject itself counts among the live nodes that know the fact.
        var subjectCounts: Bool { self == .join || self == .rejoin }
    }

    let kind: Kind
    let subject: Int
    let start: Int64
    /// Observers (running nodes other than the subject) and how many do not know yet.
    var observers = 0
    var pending = 0
    var first: Int64 = -1
    var reached999: Int64 = -1
    var complete: Int64 = -1
    /// Closed before it completed (the subject restarted, crashed or the run ended).
    var abandoned = false
    var boundViolated = false

    init(kind: Kind, subject: Int, start: Int64) {
        self.kind = kind; self.subject = subject; self.start = start
    }

    @inline(__always)
    func isDone(_ code: UInt8) -> Bool {
        switch kind {
        case .crash, .leave: code == Observations.Code.dead || code == Observations.Code.left || code == Observations.Code.unknown
        case .join, .rejoin: code == Observations.Code.alive
        }
    }
}

/// The dissemination of one metadata update (a new incarnation of one member).
struct Tracer {
    let subject: Int
    let incarnation: Incarnation
    let start: Int64
    var seen: [Bool]
    var observers = 0
    var pending = 0
    var reached999: Int64 = -1
    var complete: Int64 = -1

    init(subject: Int, incarnation: Incarnation, start: Int64, seen: [Bool]) {
        self.subject = subject; self.incarnation = incarnation; self.start = start; self.seen = seen
    }
}

/// Watching for every running node to see every other running node alive.
struct ConvergenceWatch {
    enum Kind { case bootstrap, heal }
    let kind: Kind
    let start: Int64
    var converged: Int64 = -1
    var violated = false
}

extension Simulation {
    /// Mirrors one `.changed` effect of `observer`'s core into the view matrix, counting
    /// false positives.
    mutating func observe(observer o: Int, change: MemberChange) {
        guard let s = index(of: change.id) else { return }
        if observations.tracer?.subject == s { observations.tracerSaw(o, incarnation: change.incarnation, at: now) }
        let code = Observations.Code.of(nodes[o].core?.member(change.id)?.status)
        let old = observations.code(o, s)
        guard old != code else { return }
        if trace != nil { trace!.line(now, "view n\(o) sees n\(s) \(Observations.Code.name(code)) (\(change.kind.rawValue))") }
        observations.setView(o, s, code, at: now)
        if code == Observations.Code.dead {
            if nodes[s].state == .leaving || nodes[s].state == .left { observations.leavesSeenAsDead += 1 }
            checkFalsePositive(observer: o, subject: s, incarnation: change.incarnation)
        }
    }

    /// A dead verdict about a running node that was not excused (recent crash, restart, long
    /// pause, or a partition between the two) is a false positive.
    private mutating func checkFalsePositive(observer o: Int, subject s: Int, incarnation: Incarnation) {
        guard nodes[s].state == .running, now >= nodes[s].excusedUntil else { return }
        if !network.reachable(o, s) || !network.reachable(s, o) || now < observations.partitionExcuseUntil {
            observations.partitionVerdicts += 1
            return
        }
        observations.falsePositiveDeclarations += 1
        observations.falsePositiveEpisodes.insert(UInt64(s) << 32 | (incarnation.value & 0xFFFF_FFFF))
        if observations.firstFalsePositive == nil {
            let paused = nodes[s].isPaused(at: now) ? ", paused" : ""
            observations.firstFalsePositive =
                "t=\(Report.seconds(now))s: n\(s) (running\(paused)) declared dead by n\(o) at incarnation \(incarnation)"
        }
    }
}
