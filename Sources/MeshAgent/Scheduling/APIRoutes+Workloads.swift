import Consensus
import Foundation
import Hummingbird
import MeshAPI
import MeshCore
import Scheduler

/// Routes of the scheduler (`/v1/workloads`): writes go through Raft like `var set` and
/// answer after commit; reads are linearizable like `var get` (`stale=1`: this agent's
/// replica at once). Every refusal before a commit is counted by reason
/// (`meshd_workload_refused_total`).
extension APIRoutes {
    static func addWorkloadRoutes(to router: Router<APIRequestContext>, runtime: MeshRuntime, services: MeshServices) {
        let scheduler = services.scheduler

        router.post("/v1/workloads") { request, context in
            let body: WorkloadSubmitRequest
            do { body = try await decode(WorkloadSubmitRequest.self, from: request) } catch {
                await scheduler.countRefusal("bad_body")
                throw error
            }
            let spec: WorkloadSpec
            do throws(SpecError) { spec = try workloadSpec(body) } catch {
                await scheduler.countRefusal(error.reason)
                throw APIFailure.badRequest(error.description)
            }
            let state = try await readWorkloads(services, stale: false)
            guard state.workloads[spec.name] == nil else {
                await scheduler.countRefusal("name_in_use")
                throw APIFailure.refused("workload \(spec.name) exists; scale it, or rm it first")
            }
            return try await workloadWrite(.submit(spec), services: services, context: context, status: .created)
        }

        router.get("/v1/workloads") { request, _ in
            let state = try await readWorkloads(services, stale: isStale(request))
            let view = await WorkloadView.make(state, runtime: runtime)
            return JSONResponse.make(state.specs.map { view.info($0.name) })
        }

        router.get("/v1/workloads/:name") { request, context in
            let name = context.pathParameter("name")
            try requireWorkloadName(name)
            let state = try await readWorkloads(services, stale: isStale(request))
            guard state.workloads[name] != nil else { throw unknownWorkload(name) }
            return JSONResponse.make(await WorkloadView.make(state, runtime: runtime).info(name))
        }

        router.get("/v1/workloads/:name/why") { request, context in
            let name = context.pathParameter("name")
            try requireWorkloadName(name)
            var instance: Int?
            if let text = request.uri.queryParameters.get("instance"), !text.isEmpty {
                guard let n = Int(text), n >= 0 else { throw APIFailure.badRequest("instance=\(text): a number, 0 or more") }
                instance = n
            }
            let state = try await readWorkloads(services, stale: isStale(request))
            guard state.workloads[name] != nil else { throw unknownWorkload(name) }
            return JSONResponse.make(await WorkloadView.make(state, runtime: runtime).why(name, instance: instance))
        }

        router.post("/v1/workloads/:name/scale") { request, context in
            let name = context.pathParameter("name")
            try requireWorkloadName(name)
            let body = try await decode(WorkloadScaleRequest.self, from: request)
            if let why = WorkloadState.validate(.scale(name: name, count: body.count)) {
                await scheduler.countRefusal("bad_count")
                throw APIFailure.badRequest(why)
            }
            return try await workloadWrite(.scale(name: name, count: body.count), services: services, context: context)
        }

        router.post("/v1/workloads/:name/stop") { request, context in
            let name = context.pathParameter("name")
            try requireWorkloadName(name)
            return try await workloadWrite(.stop(name: name), services: services, context: context)
        }

        router.post("/v1/workloads/:name/restart") { request, context in
            let name = context.pathParameter("name")
            try requireWorkloadName(name)
            return try await workloadWrite(.restart(name: name), services: services, context: context)
        }

        router.delete("/v1/workloads/:name") { request, context in
            let name = context.pathParameter("name")
            try requireWorkloadName(name)
            return try await workloadWrite(.remove(name: name), services: services, context: context)
        }
    }

    static func unknownWorkload(_ name: String) -> APIFailure {
        .http(status: .notFound, detail: "no workload \(name) (try `meshctl ps`)")
    }

    /// The spec a request asks for; every mistake is a `SpecError` (400).
    static func workloadSpec(_ b: WorkloadSubmitRequest) throws(SpecError) -> WorkloadSpec {
        var constraints: [Constraint] = []
        for text in b.constraints ?? [] { constraints.append(try Constraint.parse(text)) }
        let strategy = try b.strategy.map { (s: String) throws(SpecError) -> WorkloadSpec.Strategy in
            guard let v = WorkloadSpec.Strategy(rawValue: s) else { throw .badStrategy(s) }
            return v
        } ?? .spread
        let onHeal = try b.onHeal.map { (s: String) throws(SpecError) -> WorkloadSpec.OnHeal in
            guard let v = WorkloadSpec.OnHeal(rawValue: s) else { throw .badOnHeal(s) }
            return v
        } ?? .keepReplacement
        if let s = b.rescheduleAfter, !(s >= 0 && s <= 86_400 * 365) { throw .badDuration("reschedule_after") }
        if let s = b.stopAfterDisconnect, !(s >= 0 && s <= 86_400 * 365) { throw .badDuration("stop_after_disconnect") }
        if b.git == nil, let ref = b.ref { throw .badSource("--ref \(ref) without --git URL") }
        let spec = WorkloadSpec(name: b.name, command: b.command, environment: b.env ?? [:], workingDirectory: b.dir,
                                count: b.count ?? 1, resources: .init(cpuMillicores: b.cpu ?? 0, memoryMB: b.mem ?? 0),
                                constraints: constraints, strategy: strategy, restart: b.restart ?? "on-failure",
                                rescheduleAfter: b.rescheduleAfter.map { .milliseconds(Int64($0 * 1000)) },
                                stopAfterDisconnect: b.stopAfterDisconnect.map { .milliseconds(Int64($0 * 1000)) },
                                onHeal: onHeal, restartOnPeerChange: b.restartOnPeerChange ?? false,
                                source: b.git.map { WorkloadSpec.Source(url: $0, ref: b.ref ?? "HEAD") })
        try spec.validate()
        return spec
    }

    static func readWorkloads(_ services: MeshServices, stale: Bool) async throws -> WorkloadState {
        if !stale, case let .failure(e) = await services.consensus.readBarrier() {
            throw APIFailure.http(status: .serviceUnavailable, detail: "\(e); add stale=1 to read this agent's replica")
        }
        return await services.consensus.state.workloads
    }

    /// A name no workload can have (`../x`, `/etc/passwd`, NUL) is a bad request, not an
    /// unknown workload.
    static func requireWorkloadName(_ name: String) throws {
        guard WorkloadSpec.isValidName(name) else { throw APIFailure.badName(SpecError.badName(name).description) }
    }

    static func workloadWrite(_ command: WorkloadCommand, services: MeshServices, context: APIRequestContext,
                              status: HTTPResponse.Status = .ok) async throws -> Response {
        if let why = WorkloadState.validate(command) {
            await services.scheduler.countRefusal("bad_request")
            throw APIFailure.badRequest(why)
        }
        switch await services.consensus.submit(.workload(command), requester: requester(context)) {
        case let .success(index): return JSONResponse.make(CommandResult(result: "committed", index: index.value), status: status)
        case let .failure(e):
            switch e {
            case .noLeader: throw APIFailure.http(status: .serviceUnavailable, detail: e.description)
            case .timedOut, .leaderChanged: throw APIFailure.http(status: .gatewayTimeout, detail: e.description)
            case let .refused(why) where why.hasPrefix("no workload"):
                await services.scheduler.countRefusal("unknown_workload")
                throw unknownWorkload(command.workloadName ?? "")
            case let .refused(why) where why.contains("exists"):
                await services.scheduler.countRefusal("name_in_use")
                throw APIFailure.refused(why)
            case .refused, .storage: throw APIFailure.refused(e.description)
            }
        }
    }
}
