import MeshCore
@testable import Supervisor
import Testing

/// The restart rule on its own (pure), then with real processes.
@Suite struct RestartPlannerTests {
    func planner(limit: Int = 5) -> RestartPlanner {
        var s = SupervisorSettings(stateDirectory: "/x", logDirectory: "/x")
        s.restartBackoffBase = .seconds(1); s.restartBackoffCap = .seconds(8)
        s.restartBackoffResetAfter = .seconds(60); s.restartLimit = limit; s.restartWindow = .seconds(600)
        return RestartPlanner(settings: s)
    }

    @Test func backoffDoublesUpToTheCap() {
        var p = planner(limit: 100)
        let delays = (1 ... 6).map { i -> Duration in
            guard case let .restart(attempt, delay) = p.decide(after: .exited(code: 1), policy: .always, ranFor: .seconds(1), now: MeshTime(nanoseconds: Int64(i))) else { return .zero }
            #expect(attempt == i)
            return delay
        }
        #expect(delays == [.seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(8), .seconds(8)])
    }

    @Test func policiesDecideWhetherToRestart() {
        var p = planner()
        #expect(p.decide(after: .exited(code: 0), policy: .onFailure, ranFor: .zero, now: .zero) == .stay)
        #expect(p.decide(after: .exited(code: 1), policy: .never, ranFor: .zero, now: .zero) == .stay)
        #expect(p.decide(after: .exited(code: 0), policy: .always, ranFor: .zero, now: .zero) == .restart(attempt: 1, delay: .seconds(1)))
        #expect(p.decide(after: .unknown, policy: .onFailure, ranFor: .zero, now: .zero) == .restart(attempt: 2, delay: .seconds(2)))
    }

    @Test func aLongRunResetsTheBackoff() {
        var p = planner()
        _ = p.decide(after: .exited(code: 1), policy: .always, ranFor: .seconds(1), now: .zero)
        _ = p.decide(after: .exited(code: 1), policy: .always, ranFor: .seconds(1), now: .zero + .seconds(2))
        #expect(p.decide(after: .exited(code: 1), policy: .always, ranFor: .seconds(61), now: .zero + .seconds(70))
                == .restart(attempt: 1, delay: .seconds(1)))
    }

    @Test func tooManyRestartsInTheWindowFail() {
        var p = planner(limit: 2)
        let t0 = MeshTime.zero
        _ = p.decide(after: .exited(code: 1), policy: .always, ranFor: .zero, now: t0)
        _ = p.decide(after: .exited(code: 1), policy: .always, ranFor: .zero, now: t0 + .seconds(1))
        guard case .fail = p.decide(after: .exited(code: 1), policy: .always, ranFor: .zero, now: t0 + .seconds(2)) else {
            Issue.record("expected fail"); return
        }
        // Once the first restarts leave the window, restarts are allowed again.
        if case .fail = p.decide(after: .exited(code: 1), policy: .always, ranFor: .zero, now: t0 + .seconds(601)) {
            Issue.record("window did not slide")
        }
    }
}

@Suite(.serialized) struct RestartTests {
    @Test func onFailureRestartsWithBackoffThenFails() async throws {
        try await withSupervisor({ $0.restartLimit = 3 }) { sup, events, _ in
            let id: InstanceID = "crashy.0"
            try await sup.start(id, .shell("echo run; exit 1", restartPolicy: .onFailure))
            try await events.wait(for: id, "failed") { if case .failed = $0 { true } else { false } }
            let kinds = events.kinds(id)
            let delays = kinds.compactMap { k -> Duration? in if case let .restarting(_, d) = k { d } else { nil } }
            #expect(delays == [.milliseconds(20), .milliseconds(40), .milliseconds(80)])
            #expect(kinds.filter(isStarted).count == 4)
            #expect(sup.tail(id, stream: .stdout, lines: 10) == ["run", "run", "run", "run"])
            guard case .failed = await sup.info(id)?.state else { Issue.record("not failed"); return }
        }
    }

    /// Who asked goes on the events that answer the request, not on what the supervisor
    /// does by itself (a restart after a crash).
    @Test func onlyTheRequestedStartAndStopNameWhoAsked() async throws {
        try await withSupervisor { sup, events, dir in
            let id: InstanceID = "asked.0"
            let ranOnce = dir.path + "/ran-once"
            try await sup.start(id, .shell("if [ -f \(ranOnce) ]; then exec sleep 30; fi; touch \(ranOnce); exit 1",
                                           restartPolicy: .onFailure), requestedBy: ["user": "ana"])
            _ = try await eventually("the restart") { events.kinds(id).filter(isStarted).count >= 2 ? true : nil }
            _ = try await sup.stop(id, gracePeriod: .seconds(5), requestedBy: ["user": "bo"])
            try await events.wait(for: id, "stopped", isStopped)
            var startedBy: [String?] = [], stoppedBy: [String?] = [], othersBy: [[String: String]] = []
            for event in events.all where event.instance == id {
                if isStarted(event.kind) { startedBy.append(event.attributes["user"]) }
                else if isStopped(event.kind) { stoppedBy.append(event.attributes["user"]) }
                else { othersBy.append(event.requestedBy) }
            }
            #expect(startedBy == ["ana", nil])
            #expect(stoppedBy == ["bo"])
            #expect(!othersBy.isEmpty && othersBy.allSatisfy(\.isEmpty), "\(othersBy)")
        }
    }

    @Test func stopDuringBackoffCancelsTheRestart() async throws {
        try await withSupervisor({ $0.restartBackoffBase = .seconds(30); $0.restartBackoffCap = .seconds(30) }) { sup, events, _ in
            let id: InstanceID = "later.0"
            try await sup.start(id, .shell("exit 1", restartPolicy: .always))
            try await events.wait(for: id, "restarting") { if case .restarting = $0 { true } else { false } }
            #expect(try await sup.stop(id) == nil)
            try await events.wait(for: id, .stopped(nil))
            #expect(await sup.info(id)?.state == .stopped(nil))
        }
    }

    @Test func alwaysRestartsAfterASuccessfulExit() async throws {
        try await withSupervisor { sup, events, _ in
            let id: InstanceID = "again.0"
            try await sup.start(id, .shell("exit 0", restartPolicy: .always))
            _ = try await eventually("3 starts; saw \(events.kinds(id))") { events.kinds(id).filter(isStarted).count >= 3 ? true : nil }
            try await sup.stop(id)
        }
    }
}
