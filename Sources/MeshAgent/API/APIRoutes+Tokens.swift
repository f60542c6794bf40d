import Consensus
import Hummingbird
import MeshAPI
import MeshCore
import MeshWire

extension APIRoutes {
    /// `/v1/tokens`: the API's tokens (APIAccess). A token's secret is made here, on the
    /// agent that took the request, answered once, and committed only as its hash.
    static func addTokenRoutes(to router: Router<APIRequestContext>, runtime: MeshRuntime, services: MeshServices) {
        router.post("/v1/tokens/bootstrap") { request, context in
            let body = try await decodeOptional(TokenBootstrapRequest.self, from: request) ?? TokenBootstrapRequest()
            let name = body.name ?? "bootstrap"
            let secret = TokenSecret.generate()
            let index = try await commit(.bootstrapToken(name: name, hash: TokenSecret.hash(secret)), services: services, context: context)
            return JSONResponse.make(TokenCreated(name: name, role: TokenRole.admin.rawValue, secret: secret, index: index), status: .created)
        }

        router.post("/v1/tokens") { request, context in
            let body = try await decode(TokenCreateRequest.self, from: request)
            guard let role = TokenRole(rawValue: body.role) else {
                throw APIFailure.badRequest("role \"\(body.role)\": one of " + TokenRole.allCases.map(\.rawValue).joined(separator: ", "))
            }
            let secret = TokenSecret.generate()
            let index = try await commit(.createToken(name: body.name, role: role, hash: TokenSecret.hash(secret)),
                                         services: services, context: context)
            return JSONResponse.make(TokenCreated(name: body.name, role: role.rawValue, secret: secret, index: index), status: .created)
        }

        router.get("/v1/tokens") { request, _ in
            if !isStale(request), case let .failure(e) = await services.consensus.readBarrier() {
                throw APIFailure.http(status: .serviceUnavailable, detail: "\(e)")
            }
            let (state, _) = await services.consensus.replicaView()
            return JSONResponse.make(state.tokens.values.sorted { $0.name < $1.name }
                .map { TokenInfo(name: $0.name, role: $0.role.rawValue, index: $0.index.value) })
        }

        router.post("/v1/members/:node/ban") { _, context in
            let text = context.pathParameter("node")
            let id: NodeID
            if text.count == 64, let bytes = Hex.decode(text), let full = NodeID(publicKey: bytes) {
                id = full
            } else if let m = await runtime.findMember(text) {
                id = m.id
            } else {
                throw APIFailure.unknownMember(text)
            }
            guard id != runtime.identity.nodeID else { throw APIFailure.badRequest("an agent cannot ban itself; ask another member") }
            // A voter's ban is its loss to Raft: refused when the voters left alive would be
            // no majority (two voters while the set still grows, or one already down), since
            // nothing could commit afterwards but `raft recover`.
            let view = await runtime.consensusView()
            if view.voters.contains(id) {
                let aliveAfter = view.voters.filter { $0 != id && view.members[$0]?.alive == true }.count
                guard aliveAfter >= view.voters.count / 2 + 1 else {
                    throw APIFailure.refused("\(text) is one of \(view.voters.count) voters and only \(aliveAfter) others are alive: "
                        + "banning it now leaves no majority; wait until the voter set has grown (meshctl status), or stop it and use raft recover")
                }
            }
            return try await write(.banMember(id: id), services: services, context: context)
        }

        router.delete("/v1/tokens/:name") { request, context in
            let name = context.pathParameter("name")
            return try await write(.revokeToken(name: name), services: services, context: context)
        }
    }

    /// Commits `op` through Raft and returns its index, or throws the API's error for it.
    static func commit(_ op: ControlCommand.Operation, services: MeshServices, context: APIRequestContext) async throws -> UInt64 {
        if let why = ControlState.validate(op) { throw APIFailure.badRequest(why) }
        switch await services.consensus.submit(op, requester: requester(context)) {
        case let .success(index): return index.value
        case let .failure(e):
            switch e {
            case .noLeader: throw APIFailure.http(status: .serviceUnavailable, detail: e.description)
            case .timedOut, .leaderChanged: throw APIFailure.http(status: .gatewayTimeout, detail: e.description)
            case .refused, .storage: throw APIFailure.refused(e.description)
            }
        }
    }
}
