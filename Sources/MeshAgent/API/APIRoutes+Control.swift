import Consensus
import EventLog
import Foundation
import Hummingbird
import MeshAPI
import MeshCore

/// Routes of the layers above membership: the event log (`/v1/events`) and the
/// replicated variables (`/v1/vars`).
extension APIRoutes {
    /// Kinds only the agent itself writes; `POST /v1/events` refuses them so nobody can
    /// forge a membership or control record.
    static let reservedEventPrefixes = ["agent.", "member.", "control.", "workload.", "exec."]
    /// Most events one `GET /v1/events` returns.
    static let maxEventsPerQuery = 10_000

    static func addControlRoutes(to router: Router<APIRequestContext>, runtime: MeshRuntime, services: MeshServices) {
        router.get("/v1/events") { request, _ in
            let q = try await eventQuery(request, runtime: runtime)
            if request.uri.queryParameters.get("follow") == "1" || request.uri.queryParameters.get("follow") == "true" {
                let stream: AsyncStream<Event>
                do { stream = try await services.eventLog.follow(q) } catch { throw APIFailure.refused("\(error)") }
                let names = await runtime.memberNames()
                let lines = stream.map { event -> ByteBuffer in
                    var data = (try? JSONEncoder.api.encode(eventInfo(event, names: names))) ?? Data()
                    data.append(UInt8(ascii: "\n"))
                    return ByteBuffer(bytes: data)
                }
                return Response(status: .ok, headers: [.contentType: "application/x-ndjson"], body: ResponseBody(asyncSequence: lines))
            }
            let events: [Event]
            do { events = try await services.eventLog.query(q) } catch { throw APIFailure.internalError("\(error)") }
            let names = await runtime.memberNames()
            return JSONResponse.make(events.map { eventInfo($0, names: names) })
        }

        router.post("/v1/events") { request, context in
            let body = try await decode(EventSendRequest.self, from: request)
            guard !reservedEventPrefixes.contains(where: body.kind.hasPrefix) else {
                throw APIFailure.badRequest("kinds starting with \(reservedEventPrefixes.joined(separator: ", ")) are written by the agent only")
            }
            var attributes = body.attributes
            attributes["by"] = requester(context)
            let e: Event
            do throws(EventError) { e = try await services.eventLog.append(kind: body.kind, attributes: attributes) } catch {
                throw APIFailure(error)
            }
            return JSONResponse.make(eventInfo(e, names: await runtime.memberNames()), status: .created)
        }

        router.get("/v1/vars") { request, _ in
            let prefix = request.uri.queryParameters.get("prefix").map { String($0) } ?? ""
            return JSONResponse.make(try await readVars(services, stale: isStale(request)) { $0.hasPrefix(prefix) })
        }

        router.get("/v1/vars/:key") { request, context in
            let key = context.pathParameter("key")
            try requireVarKey(key)
            let response = try await readVars(services, stale: isStale(request)) { $0 == key }
            guard !response.vars.isEmpty else { throw APIFailure.http(status: .notFound, detail: "no variable \(key)") }
            return JSONResponse.make(response)
        }

        router.put("/v1/vars/:key") { request, context in
            let key = context.pathParameter("key")
            try requireVarKey(key)
            let body = try await decode(VarSetRequest.self, from: request)
            return try await write(.setVar(key: key, value: body.value), services: services, context: context)
        }

        router.delete("/v1/vars/:key") { request, context in
            let key = context.pathParameter("key")
            try requireVarKey(key)
            return try await write(.removeVar(key: key), services: services, context: context)
        }

        router.post("/v1/raft/recover") { request, _ in
            let body = try await decode(RaftRecoverRequest.self, from: request)
            switch await services.consensus.recover(force: body.force) {
            case let .failure(e): throw APIFailure.http(status: .conflict, detail: e.description)
            case let .success(r):
                let names = await runtime.memberNames()
                return JSONResponse.make(RaftRecoverResult(term: r.term.value, voters: r.voters.map { names[$0] ?? $0.description },
                                                           learners: r.learners.map { names[$0] ?? $0.description }))
            }
        }
    }

    /// A key no variable can have (`../x`, `/etc/passwd`, NUL) is refused before Raft sees it.
    static func requireVarKey(_ key: String) throws {
        if let why = ControlState.validateKey(key) { throw APIFailure.badName(why) }
    }

    static func write(_ op: ControlCommand.Operation, services: MeshServices, context: APIRequestContext) async throws -> Response {
        JSONResponse.make(CommandResult(result: "committed", index: try await commit(op, services: services, context: context)))
    }

    /// Linearizable by default: the leader's read index (thesis §6.4), answered from this
    /// agent's replica once it has applied it (`ConsensusService.readBarrier`); `stale`
    /// reads the replica as it is, with how far behind it is.
    static func readVars(_ services: MeshServices, stale: Bool, _ include: (String) -> Bool) async throws -> VarsResponse {
        if !stale, case let .failure(e) = await services.consensus.readBarrier() {
            throw APIFailure.http(status: .serviceUnavailable, detail: "\(e); add --stale to read this agent's replica")
        }
        let (state, s) = await services.consensus.replicaView()
        let vars = state.vars.filter { include($0.key) }.sorted { $0.key < $1.key }
            .map { VarInfo(key: $0.key, value: $0.value.value, index: $0.value.index.value) }
        return VarsResponse(vars: vars, stale: stale, appliedIndex: s.appliedIndex.value,
                            lagEntries: s.lagEntries, appliedAgeSeconds: s.appliedAge.seconds)
    }

    static func isStale(_ request: Request) -> Bool {
        ["1", "true"].contains(request.uri.queryParameters.get("stale").map { String($0) } ?? "")
    }

    /// Who asked: `token:NAME` as the access check found it, or `local` (an API on loopback
    /// that needs no token). Never any part of a secret.
    static func requester(_ context: APIRequestContext) -> String { context.requester ?? "local" }

    static func eventQuery(_ request: Request, runtime: MeshRuntime) async throws -> EventQuery {
        let p = request.uri.queryParameters
        var q = EventQuery(limit: maxEventsPerQuery)
        if let since = p.get("since"), !since.isEmpty {
            guard let d = parseDuration(String(since)) else {
                throw APIFailure.badRequest("since=\(since): a duration such as 90s, 30m, 1h or 2d")
            }
            q.sinceMilliseconds = AgentService.wallMilliseconds() - UInt64(max(0, d.seconds) * 1000)
        }
        if let kind = p.get("kind"), !kind.isEmpty { q.kindPrefix = String(kind) }
        if let node = p.get("node"), !node.isEmpty {
            guard let m = await runtime.findMember(String(node)) else { throw APIFailure.unknownMember(String(node)) }
            q.origin = m.id
        }
        if let limit = p.get("limit"), let n = Int(limit) { q.limit = max(1, min(n, maxEventsPerQuery)) }
        return q
    }

    /// `90s`, `30m`, `1h`, `2d` (or plain seconds).
    static func parseDuration(_ text: String) -> Duration? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        if let u = text.last, let scale = units[u], let n = Double(text.dropLast()), n >= 0 { return .seconds(n * scale) }
        if let n = Double(text), n >= 0 { return .seconds(n) }
        return nil
    }

    static func eventInfo(_ e: Event, names: [NodeID: String]) -> EventInfo {
        EventInfo(time: APITime.iso8601(milliseconds: Int64(e.time.milliseconds)), kind: e.kind,
                         node: names[e.origin] ?? e.origin.description, origin: e.origin.hex, seq: e.seq.value,
                         attributes: e.attributes)
    }
}

/// Times in API answers.
enum APITime {
    /// `2026-11-27T19:41:18.123Z` (UTC, milliseconds). Seconds by FoundationEssentials'
    /// `ISO8601FormatStyle`, not `ISO8601DateFormatter`, which formats through ICU, whose
    /// code and data cost an agent ~11 MB of RSS once touched (benchmarks/README.md, idle
    /// agent); milliseconds from the integer, since a `Double` of them may round down.
    static func iso8601(milliseconds ms: Int64) -> String {
        let seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000
        let fraction = Int(ms - seconds * 1000)
        let whole = Date(timeIntervalSince1970: Double(seconds)).formatted(Date.ISO8601FormatStyle())   // ...:18Z
        let digits = String(fraction)
        return whole.dropLast() + "." + String(repeating: "0", count: 3 - digits.count) + digits + "Z"
    }
}

extension MeshRuntime {
    /// Member names by id (for event listings).
    func memberNames() -> [NodeID: String] {
        Dictionary(membership.members.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
    }
}
