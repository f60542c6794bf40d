import EventLog
import Foundation
import Hummingbird
import MeshAPI
import MeshCore
import ServiceLifecycle
import Supervisor

/// Routes of the node layer: local control of the supervisor (`/v1/local/instances`), the
/// mesh-wide instance list (`/v1/instances`), logs from any node (`/v1/logs/...`) and
/// statistics (`/v1/stats[/NODE]`). Other nodes are asked with `NodeQuery`s.
extension APIRoutes {
    /// `scheduled` adds the scheduler's view to `ps`: placements no node reported, pending instances.
    static func addNodeRoutes(to router: Router<APIRequestContext>, runtime: MeshRuntime, node: LocalServices,
                              record: @escaping @Sendable (String, [String: String]) async -> Void,
                              scheduled: @escaping @Sendable ([InstanceRow]) async -> [InstanceRow] = { $0 }) {
        router.post("/v1/local/instances") { request, context in
            let body = try await decode(InstanceStartRequest.self, from: request)
            let asker = try requesterAttributes(request, context: context)
            do throws(SupervisorService.StartRefusal) {
                return JSONResponse.make(try await node.supervisor.start(body, requestedBy: asker, record: record),
                                         status: .created)
            } catch {
                switch error {
                case let .badRequest(why): throw APIFailure.badRequest(why)
                case let .conflict(why): throw APIFailure.refused(why)
                case let .agentFailure(why): throw APIFailure.internalError(why)
                }
            }
        }

        router.get("/v1/local/instances") { _, _ in JSONResponse.make(await node.localRows()) }

        router.delete("/v1/local/instances/:id") { request, context in
            let id = context.pathParameter("id")
            let asker = try requesterAttributes(request, context: context)
            do throws(SupervisorError) { return JSONResponse.make(try await node.supervisor.stop(id, requestedBy: asker)) } catch {
                switch error {
                case .unknownInstance: throw APIFailure.http(status: .notFound, detail: error.description)
                case .invalidInstanceName: throw APIFailure.badName(error.description)
                default: throw APIFailure.badRequest(error.description)
                }
            }
        }

        router.get("/v1/instances") { request, _ in
            let name = request.uri.queryParameters.get("name").map { String($0) } ?? ""
            let rows = await scheduled(await allInstances(runtime: runtime, node: node))
            return JSONResponse.make(rows.filter { name.isEmpty || $0.state == "unreachable" || $0.workload == name || $0.id == name })
        }

        router.get("/v1/logs/:id") { request, context in
            try await logs(request, id: context.pathParameter("id"), runtime: runtime, node: node)
        }

        router.get("/v1/stats") { request, _ in
            JSONResponse.make(await node.stats.info(history: try statsHistory(request)))
        }

        router.get("/v1/stats/:node") { request, context in
            let history = try statsHistory(request)
            let name = context.pathParameter("node")
            switch try await locate(name, runtime: runtime, node: node) {
            case nil: return JSONResponse.make(await node.stats.info(history: history))
            case let target?:
                switch try await askOrFail(runtime, target, .stats(historySeconds: Int(history.seconds))) {
                case let .stats(info): return JSONResponse.make(info)
                default: throw APIFailure.internalError("\(target.name) answered a stats question with something else")
                }
            }
        }
    }

    /// Every instance of every live member; a member that does not answer is one row
    /// `unreachable`.
    static func allInstances(runtime: MeshRuntime, node: LocalServices) async -> [InstanceRow] {
        var rows = await node.localRows()
        for (target, result) in await runtime.askAll(.instances) {
            switch result {
            case let .success(.instances(remote)): rows += remote
            case let .success(other): rows.append(unreachable(target.name, detail: "unexpected answer \(other)"))
            case let .failure(error): rows.append(unreachable(target.name, detail: error.description))
            }
        }
        return rows.sorted { ($0.workload, $0.instance, $0.node) < ($1.workload, $1.instance, $1.node) }
    }

    static func unreachable(_ node: String, detail: String) -> InstanceRow {
        InstanceRow(workload: "", instance: "", node: node, state: "unreachable", pid: nil, restarts: 0, started: nil,
                    cpu: nil, rss: nil, detail: detail, adopted: false, command: "")
    }

    /// `since=DURATION` (default `AgentLimits.defaultStatsHistory`, at most a day).
    static func statsHistory(_ request: Request) throws -> Duration {
        guard let text = request.uri.queryParameters.get("since"), !text.isEmpty else { return AgentLimits.defaultStatsHistory }
        guard let d = parseDuration(String(text)) else { throw APIFailure.badRequest("since=\(text): a duration such as 90s, 30m, 1h") }
        return min(d, AgentLimits.maxStatsHistory)
    }

    /// nil for this node, else the live member named `name`.
    static func locate(_ name: String, runtime: MeshRuntime, node: LocalServices) async throws -> MeshRuntime.QueryTarget? {
        if name == node.name { return nil }
        guard let m = await runtime.findMember(name) else { throw APIFailure.unknownMember(name) }
        if m.id == (await runtime.localNodeID) { return nil }
        guard let target = await runtime.queryTargets().first(where: { $0.id == m.id }) else {
            throw APIFailure.http(status: .serviceUnavailable, detail: "\(m.name) is \(m.status.description): it cannot be asked now")
        }
        return target
    }

    static func askOrFail(_ runtime: MeshRuntime, _ target: MeshRuntime.QueryTarget, _ query: NodeQuery) async throws -> NodeReply {
        do {
            let reply = try await runtime.ask(target, query)
            if case let .refused(why) = reply { throw APIFailure.http(status: .notFound, detail: why) }
            return reply
        } catch let error as NodeQueryError {
            throw APIFailure.http(status: .gatewayTimeout, detail: error.description)
        }
    }

    // MARK: Logs

    /// `GET /v1/logs/NAME[.INSTANCE]?tail=N&follow=1&stream=stdout|stderr&node=NAME&cursor=OFFSET&format=json`
    static func logs(_ request: Request, id text: String, runtime: MeshRuntime, node: LocalServices) async throws -> Response {
        // A workload or instance name (`web`, `web.0`); anything else (`../x`, `/etc/passwd`,
        // NUL) names no instance and is refused before any node is asked.
        do throws(SupervisorError) { _ = try InstanceID(text) } catch { throw APIFailure.badName(error.description) }
        let p = request.uri.queryParameters
        let stream = try LogStream(rawValue: p.get("stream").map { String($0) } ?? "stdout")
            .orThrow(APIFailure.badRequest("stream: stdout or stderr"))
        var tailAsked = AgentLimits.maxLogTailLines
        if let t = p.get("tail") {
            guard let n = Int(t), n >= 0 else { throw APIFailure.badRequest("tail=\(t): a number of lines") }
            tailAsked = min(n, AgentLimits.maxLogTailLines)
        }
        let tail = tailAsked
        var cursor: LogCursor?
        if let c = p.get("cursor"), !c.isEmpty {
            guard let offset = UInt64(c) else {
                throw APIFailure.badRequest("cursor=\(c): a byte offset in the stream, as a previous answer gave it")
            }
            cursor = LogCursor(offset: offset)
        }
        let follow = ["1", "true"].contains(p.get("follow").map { String($0) } ?? "")
        let (target, instance) = try await findInstance(text, on: p.get("node").map { String($0) }, runtime: runtime, node: node)
        let where_ = target?.name ?? node.name

        @Sendable func fetch(_ cursor: LogCursor?) async throws -> LogChunkReply {
            let q = LogRequest(instance: instance, stream: stream, tailLines: tail, cursor: cursor, maxBytes: AgentLimits.maxLogChunkBytes)
            let reply = if let target { try await askOrFail(runtime, target, .logs(q)) } else { await node.answer(.logs(q)) }
            switch reply {
            case let .logs(chunk): return chunk
            case let .refused(why): throw APIFailure.http(status: .notFound, detail: why)
            default: throw APIFailure.internalError("\(where_) answered a log question with something else")
            }
        }

        let first = try await fetch(cursor)
        if p.get("format") == "json" {
            return JSONResponse.make(LogChunkInfo(node: where_, instance: instance, stream: stream.rawValue,
                                                  text: String(decoding: first.data, as: UTF8.self),
                                                  cursor: "\(first.next.offset)", gap: first.gap,
                                                  resumedAt: first.resumedAt?.offset, asked: cursor?.offset))
        }
        guard follow else {
            return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(bytes: first.data)))
        }
        // Follow: the first chunk, then whatever follows the last cursor, polled, until the
        // client goes away, the node stops answering or the agent stops. A client that went
        // away is noticed only at the next write, so without the last condition a follower
        // that closed during a quiet spell kept the API's graceful shutdown waiting for ever.
        let (chunks, sink) = AsyncStream.makeStream(of: ByteBuffer.self, bufferingPolicy: .bufferingOldest(64))
        let poller = Task {
            if !first.data.isEmpty { sink.yield(ByteBuffer(bytes: first.data)) }
            var next = first.next
            var failures = 0
            while !Task.isCancelled, !Task.isShuttingDownGracefully {
                do {
                    let chunk = try await fetch(next)
                    failures = 0
                    next = chunk.next
                    if !chunk.data.isEmpty { sink.yield(ByteBuffer(bytes: chunk.data)) }
                    if chunk.data.count >= AgentLimits.maxLogChunkBytes { continue }
                } catch {
                    failures += 1
                    if failures >= AgentLimits.logFollowMaxFailures { break }
                }
                try? await Task.sleep(for: AgentLimits.logFollowPollInterval)
            }
            sink.finish()
        }
        sink.onTermination = { _ in poller.cancel() }
        return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: ResponseBody(asyncSequence: chunks))
    }

    /// Which node runs `NAME[.INSTANCE]` (nil: this one) and the full instance id. Without
    /// `node`, this node wins if it has the instance; else the members are asked, and a
    /// running instance is preferred over a stopped one.
    static func findInstance(_ text: String, on nodeName: String?, runtime: MeshRuntime,
                             node: LocalServices) async throws -> (MeshRuntime.QueryTarget?, String) {
        func matches(_ rows: [InstanceRow]) -> [InstanceRow] {
            rows.filter { $0.state != "unreachable" && ($0.id == text || (!text.contains(".") && $0.workload == text)) }
        }
        if let nodeName, !nodeName.isEmpty {
            let target = try await locate(nodeName, runtime: runtime, node: node)
            guard !text.contains(".") else { return (target, text) }
            let rows: [InstanceRow]
            if let target, case let .instances(r) = try await askOrFail(runtime, target, .instances) { rows = r } else {
                rows = await node.localRows()
            }
            return (target, try pick(matches(rows), text).id)
        }
        let local = matches(await node.localRows())
        if let best = try? pick(local, text) { return (nil, best.id) }
        let all = matches(await allInstances(runtime: runtime, node: node))
        let best = try pick(all, text)
        if best.node == node.name { return (nil, best.id) }
        let targets = await runtime.queryTargets()
        guard let target = targets.first(where: { $0.name == best.node }) else {
            throw APIFailure.http(status: .serviceUnavailable, detail: "\(best.node) runs \(best.id) but cannot be asked now")
        }
        return (target, best.id)
    }

    /// The one instance meant: the only match, or the only running one among several.
    static func pick(_ rows: [InstanceRow], _ text: String) throws -> InstanceRow {
        if rows.count == 1 { return rows[0] }
        guard !rows.isEmpty else {
            throw APIFailure.http(status: .notFound, detail: "no instance \(text) on any reachable member (see `meshctl ps`)")
        }
        let running = rows.filter { $0.state == "running" || $0.state == "stopping" }
        if running.count == 1 { return running[0] }
        let places = rows.map { "\($0.id) on \($0.node)" }.joined(separator: ", ")
        throw APIFailure.http(status: .conflict, detail: "\(text) is ambiguous: \(places); name the instance (NAME.INSTANCE) or the node (node=NAME)")
    }
}

extension Optional {
    func orThrow(_ error: @autoclosure () -> any Error) throws -> Wrapped {
        guard let self else { throw error() }
        return self
    }
}
