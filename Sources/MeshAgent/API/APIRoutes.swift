import MeshCore
import Foundation
import Hummingbird
import MeshAPI
import MeshWire

/// The HTTP API's routes (docs/INTERFACES.md "HTTP API"): JSON under `/v1/`, Prometheus text on
/// `/metrics`. Each handler asks the runtime; none holds state of its own.
enum APIRoutes {
    /// What the routes need besides the runtime.
    struct Hooks: Sendable {
        /// How long a graceful leave may take before the answer says `timeout`.
        var leaveTimeout: Duration
        /// Called after `POST /v1/leave` has left the mesh: the agent then shuts down.
        var afterLeave: @Sendable () -> Void
        /// More `/metrics` families (node and instance statistics), appended to the runtime's.
        var extraMetrics: @Sendable () async -> String = { "" }
        /// Who may call which route; nil serves every request (tests of the routes alone).
        var access: APIAccess? = nil
    }

    static func router(runtime: MeshRuntime, hooks: Hooks) -> Router<APIRequestContext> {
        let router = Router(context: APIRequestContext.self)
        router.add(middleware: JSONErrorMiddleware(refusals: hooks.access?.refusals))
        if let access = hooks.access { router.add(middleware: AccessMiddleware(access: access)) }

        // The dashboard: a static page whose script reads this API from the browser.
        router.get("/") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-cache"],
                     body: .init(byteBuffer: ByteBuffer(string: DashboardPage.html)))
        }
        router.get("/v1/members") { _, _ in JSONResponse.make(await runtime.memberInfos()) }
        router.get("/v1/status") { _, _ in JSONResponse.make(await runtime.statusInfo()) }

        router.post("/v1/join") { request, _ in
            let body = try await decode(JoinRequest.self, from: request)
            guard !body.addresses.isEmpty, body.addresses.count <= AgentLimits.maxJoinAddressesPerRequest else {
                throw APIFailure.badRequest("give 1-\(AgentLimits.maxJoinAddressesPerRequest) addresses")
            }
            var targets: [HostPort] = []
            for text in body.addresses {
                guard let hp = HostPort(parsing: text), hp.port > 0 else {
                    throw APIFailure.badRequest("\(text) is not HOST:PORT with a port 1-65535")
                }
                targets.append(hp)
            }
            let (addresses, failures) = await AddressResolver.resolveAll(targets)
            guard failures.isEmpty else {
                throw APIFailure.badRequest(failures.map(\.description).joined(separator: "; "))
            }
            guard await runtime.leaveState == .member else { throw APIFailure.leaving }
            await runtime.join(addresses)
            return JSONResponse.make(JoinResponse(contacting: addresses.map(\.description)), status: .accepted)
        }

        router.post("/v1/leave") { _, _ in
            let started = ContinuousClock.now
            let left = await runtime.leave(timeout: hooks.leaveTimeout)
            hooks.afterLeave()
            return JSONResponse.make(LeaveResponse(result: left ? "left" : "timeout",
                                                   seconds: (ContinuousClock.now - started).seconds))
        }

        router.get("/v1/keys") { _, _ in
            let local = await runtime.localFingerprints
            guard case let .done(members) = await runtime.keyringOperation(.list, key: nil) else {
                throw APIFailure.internalError("listing keys was refused")
            }
            return JSONResponse.make(keyringInfo(local: local, members: members))
        }

        router.post("/v1/keys/:operation") { request, context in
            let name = context.pathParameter("operation")
            guard let operation = KeyringCommand.Operation.allCases.first(where: { $0.name == name && $0 != .list }) else {
                throw APIFailure.http(status: .notFound, detail: "no key operation \(name); use install, use or remove")
            }
            let body = try await decode(KeyRequest.self, from: request)
            let key: ClusterKey
            if operation == .install {
                do throws(KeyFormatError) { key = try ClusterKey(base64: body.key) } catch { throw APIFailure.badRequest(error.description) }
            } else {
                guard let found = await runtime.resolveKey(body.key) else { throw APIFailure.unknownKey(body.key) }
                key = found
            }
            switch await runtime.keyringOperation(operation, key: key) {
            case let .refused(why): throw APIFailure.refused(why)
            case let .done(members):
                return JSONResponse.make(KeyOperationResult(operation: operation.name, key: key.fingerprint, members: members))
            }
        }

        router.get("/v1/rtt") { request, _ in
            guard let a = request.uri.queryParameters.get("a"), !a.isEmpty else {
                throw APIFailure.badRequest("name member a: /v1/rtt?a=NAME[&b=NAME]")
            }
            let b = request.uri.queryParameters.get("b").flatMap { $0.isEmpty ? nil : $0 }
            switch await runtime.estimatedRTT(a: a, b: b) {
            case let .success(info): return JSONResponse.make(info)
            case let .failure(failure): throw failure
            }
        }

        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: PrometheusText.contentType],
                     body: .init(byteBuffer: ByteBuffer(string: await runtime.metricsText() + (await hooks.extraMetrics()))))
        }
        return router
    }

    /// Reads a JSON body of at most `AgentLimits.maxRequestBodyBytes`.
    static func decode<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
        try await decodeBody(T.self, from: request, emptyAllowed: false)!
    }

    /// A JSON body that may be absent (nil then).
    static func decodeOptional<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T? {
        try await decodeBody(T.self, from: request, emptyAllowed: true)
    }

    private static func decodeBody<T: Decodable>(_ type: T.Type, from request: Request, emptyAllowed: Bool) async throws -> T? {
        let buffer: ByteBuffer
        do { buffer = try await request.body.collect(upTo: AgentLimits.maxRequestBodyBytes) } catch {
            throw APIFailure.bodyTooLarge(limit: AgentLimits.maxRequestBodyBytes)
        }
        do throws(RequestBodyError) {
            return try RequestBody.decode(T.self, from: Data(buffer.readableBytesView), emptyAllowed: emptyAllowed)
        } catch {
            switch error {
            case let .tooLarge(_, limit): throw APIFailure.bodyTooLarge(limit: limit)
            case .notJSON: throw APIFailure.badRequest(error.description)
            }
        }
    }

    /// Sums the members' answers into per-key usage counts.
    static func keyringInfo(local: [String], members: [MemberKeyResult]) -> KeyringInfo {
        var installed: [String: Int] = [:], primary: [String: Int] = [:]
        for m in members {
            for (i, fp) in (m.keys ?? []).enumerated() {
                installed[fp, default: 0] += 1
                if i == 0 { primary[fp, default: 0] += 1 }
            }
        }
        let keys = installed.keys.sorted { (primary[$0] ?? 0, installed[$0] ?? 0, $1) > (primary[$1] ?? 0, installed[$1] ?? 0, $0) }
            .map { KeyUsage(fingerprint: $0, installed: installed[$0] ?? 0, primary: primary[$0] ?? 0) }
        return KeyringInfo(local: local, keys: keys, total: members.count, members: members)
    }
}
