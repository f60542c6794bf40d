import Foundation
import Hummingbird
import MeshAPI
import MeshCore
import Supervisor

/// Routes of `meshctl exec` and `meshctl attach` (docs/INTERFACES.md): the agent that takes
/// the request finds the node and relays over the mesh with `NodeQuery`s, as `logs` does.
/// Every route needs `operate` (`APIAccess.requiredRole`); each use is an `exec.*` event.
extension APIRoutes {
    static func addExecRoutes(to router: Router<APIRequestContext>, runtime: MeshRuntime, node: LocalServices,
                              record: @escaping @Sendable (String, [String: String]) async -> Void) {
        let counters = node.exec.counters

        /// Asks `target` (nil: this node) and turns a refusal into the API's error.
        @Sendable func ask(_ target: MeshRuntime.QueryTarget?, _ query: NodeQuery) async throws -> NodeReply {
            let reply = if let target { try await askOrFail(runtime, target, query) } else { await node.answer(query) }
            if case let .execRefused(refusal) = reply { throw failure(refusal) }
            return reply
        }

        @Sendable func checked<T>(_ body: () throws(ExecRefusal) -> T) throws -> T {
            do throws(ExecRefusal) { return try body() } catch {
                counters.refused(error)
                throw failure(error)
            }
        }

        /// The JSON body; one that does not decode is counted as a `bad_request` refusal too.
        @Sendable func decodeCounted<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
            do { return try await decode(T.self, from: request) } catch let failure as APIFailure {
                if case let .badRequest(why) = failure { counters.refused(.badRequest(why)) }
                throw failure
            }
        }

        router.post("/v1/exec") { request, context in
            let body = try await decodeCounted(ExecRequest.self, from: request)
            let timeout = try checked { () throws(ExecRefusal) in try ExecLimits.check(command: body.command, timeoutSeconds: body.timeoutSeconds) }
            let asker = try requesterAttributes(request, context: context)
            let (target, instance) = try await execTarget(body.target, runtime: runtime, node: node, counters: counters)
            let nodeName = target?.name ?? node.name
            let start = ExecStart(command: body.command, instance: instance, timeoutSeconds: timeout, requester: asker)
            guard case let .execStarted(session) = try await ask(target, .execStart(start)) else {
                throw APIFailure.internalError("\(nodeName) answered an exec with something else")
            }
            var attributes = asker.merging(["node": nodeName, "session": session, "command": ExecLimits.eventText(body.command),
                                            "timeout_s": "\(timeout)"]) { $1 }
            if let instance { attributes["instance"] = instance }
            await record("exec.started", attributes)
            return JSONResponse.make(ExecStartInfo(session: session, node: nodeName, instance: instance, command: body.command,
                                                   timeoutSeconds: timeout), status: .created)
        }

        router.get("/v1/exec/:session") { request, context in
            let p = request.uri.queryParameters
            let target = try await locate(p.get("node").map { String($0) } ?? node.name, runtime: runtime, node: node)
            func offset(_ name: String) throws -> UInt64 {
                guard let text = p.get(name), !text.isEmpty else { return 0 }
                return try checked { () throws(ExecRefusal) in
                    guard let n = UInt64(text) else { throw .badRequest("\(name)=\(text): a byte offset, as the previous answer's \(name)_cursor") }
                    return n
                }
            }
            let session = context.pathParameter("session")
            let query = ExecPoll(session: session, stdout: try offset("stdout"), stderr: try offset("stderr"))
            guard case let .execOutput(chunk) = try await ask(target, .execPoll(query)) else {
                throw APIFailure.internalError("\(target?.name ?? node.name) answered an exec poll with something else")
            }
            return JSONResponse.make(outputInfo(chunk, node: target?.name ?? node.name, session: session))
        }

        router.delete("/v1/exec/:session") { request, context in
            let target = try await locate(request.uri.queryParameters.get("node").map { String($0) } ?? node.name, runtime: runtime, node: node)
            let session = context.pathParameter("session")
            guard case let .execOutput(chunk) = try await ask(target, .execCancel(session: session)) else {
                throw APIFailure.internalError("\(target?.name ?? node.name) answered a cancel with something else")
            }
            return JSONResponse.make(outputInfo(chunk, node: target?.name ?? node.name, session: session))
        }

        router.post("/v1/exec/fanout") { request, context in
            let body = try await decodeCounted(ExecFanoutRequest.self, from: request)
            let (timeout, tag) = try checked { () throws(ExecRefusal) in
                (try ExecLimits.check(command: body.command, timeoutSeconds: body.timeoutSeconds,
                                      defaultTimeoutSeconds: AgentLimits.defaultExecFanoutTimeoutSeconds),
                 try body.tag.map(ExecLimits.tag))
            }
            let asker = try requesterAttributes(request, context: context)
            let selection = ExecFanout.select(await runtime.memberInfos(), tag: tag)
            await record("exec.started", asker.merging(["node": body.tag.map { "tag:\($0)" } ?? "all", "nodes": "\(selection.ask.count)",
                                                        "command": ExecLimits.eventText(body.command), "timeout_s": "\(timeout)"]) { $1 })
            let targets = await runtime.queryTargets()
            let start = ExecStart(command: body.command, instance: nil, timeoutSeconds: timeout, requester: asker)
            let deadline = ContinuousClock.now + .seconds(timeout) + AgentLimits.execFanoutGrace
            let rows = await withTaskGroup(of: ExecNodeResult.self) { group in
                for name in selection.ask {
                    let target = name == node.name ? nil : targets.first { $0.name == name }
                    if target == nil && name != node.name {
                        group.addTask { ExecNodeResult(node: name, status: "unreachable", detail: "\(name) cannot be asked now") }
                        continue
                    }
                    group.addTask { await fanoutOne(target, name: name, start, deadline: deadline, runtime: runtime, node: node) }
                }
                var out = selection.unreachable.map { ExecNodeResult(node: $0.name, status: "unreachable", detail: $0.why) }
                for await row in group { out.append(row) }
                return out.sorted { $0.node < $1.node }
            }
            return JSONResponse.make(rows)
        }

        router.post("/v1/attach/:id") { request, context in
            let (target, instance) = try await attachTarget(request, context: context, runtime: runtime, node: node, counters: counters)
            var cursors: [String] = []
            for stream in [LogStream.stdout, .stderr] {
                let q = LogRequest(instance: instance, stream: stream, tailLines: 0, cursor: nil, maxBytes: 1)
                let reply = if let target { try await askOrFail(runtime, target, .logs(q)) } else { await node.answer(.logs(q)) }
                guard case let .logs(chunk) = reply else { throw APIFailure.http(status: .notFound, detail: "no instance \(instance)") }
                cursors.append("\(chunk.next.offset)")
            }
            let nodeName = target?.name ?? node.name
            let asker = try requesterAttributes(request, context: context)
            await record("exec.attached", asker.merging(["node": nodeName, "instance": instance]) { $1 })
            return JSONResponse.make(AttachInfo(node: nodeName, instance: instance, stdoutCursor: cursors[0], stderrCursor: cursors[1]))
        }

        router.post("/v1/attach/:id/stdin") { request, context in
            let body = try await decodeCounted(StdinRequest.self, from: request)
            let bytes = Array(body.text.utf8)
            let limit = AgentLimits.maxStdinWriteBytes
            try checked { () throws(ExecRefusal) in
                guard !bytes.isEmpty, bytes.count <= limit else {
                    throw .badRequest("text of \(bytes.count) bytes: send 1-\(limit) bytes at a time")
                }
            }
            let (target, instance) = try await attachTarget(request, context: context, runtime: runtime, node: node, counters: counters)
            guard case let .stdinWritten(written) = try await ask(target, .stdin(instance: instance, data: Data(bytes))) else {
                throw APIFailure.internalError("\(target?.name ?? node.name) answered a stdin write with something else")
            }
            let nodeName = target?.name ?? node.name
            let asker = try requesterAttributes(request, context: context)
            await record("exec.stdin", asker.merging(["node": nodeName, "instance": instance, "bytes": "\(written)"]) { $1 })
            return JSONResponse.make(StdinResult(node: nodeName, instance: instance, bytes: written))
        }
    }

    /// The API's answer to a refusal: 429 when the node runs its limit of commands, 404 for
    /// what is not there, 409 for an instance that takes no input now, else 400.
    static func failure(_ refusal: ExecRefusal) -> APIFailure {
        switch refusal {
        case .badRequest, .commandNotFound: .badRequest(refusal.description)
        case .tooMany: .http(status: .tooManyRequests, detail: refusal.description)
        case .unknownInstance, .unknownSession: .http(status: .notFound, detail: refusal.description)
        case .noStdin, .stdinUnavailable: .refused(refusal.description)
        }
    }

    static func outputInfo(_ chunk: ExecChunk, node: String, session: String) -> ExecOutputInfo {
        ExecOutputInfo(node: node, session: session, stdout: String(decoding: chunk.stdout, as: UTF8.self),
                       stderr: String(decoding: chunk.stderr, as: UTF8.self), stdoutCursor: "\(chunk.stdoutNext)",
                       stderrCursor: "\(chunk.stderrNext)", status: chunk.status.rawValue, done: chunk.done,
                       exitCode: chunk.exitCode, signal: chunk.signal, truncated: chunk.truncated, seconds: chunk.seconds)
    }

    /// A member (nil: this node), else the node running `NAME.INSTANCE` and the instance.
    static func execTarget(_ text: String, runtime: MeshRuntime, node: LocalServices,
                           counters: ExecCounters) async throws -> (MeshRuntime.QueryTarget?, String?) {
        let member = await runtime.findMember(text)
        if text == node.name || member != nil {
            return (try await locate(text, runtime: runtime, node: node), nil)
        }
        guard text.contains("."), (try? InstanceID(text)) != nil else {
            counters.refused(.unknownInstance(text))
            throw APIFailure.unknownMember(text)
        }
        let (target, instance) = try await findInstance(text, on: nil, runtime: runtime, node: node)
        return (target, instance)
    }

    /// The instance of `/v1/attach/:id` (`node=NAME` optional) and the node that runs it.
    static func attachTarget(_ request: Request, context: APIRequestContext, runtime: MeshRuntime, node: LocalServices,
                             counters: ExecCounters) async throws -> (MeshRuntime.QueryTarget?, String) {
        let text = context.pathParameter("id")
        do throws(SupervisorError) { _ = try InstanceID(text) } catch {
            counters.refused(.badRequest(text))
            throw APIFailure.badName(error.description)
        }
        return try await findInstance(text, on: request.uri.queryParameters.get("node").map { String($0) }, runtime: runtime, node: node)
    }

    /// One node of a fan-out: start, then poll until done or `deadline`; the output kept up
    /// to `AgentLimits.maxExecFanoutOutputBytes` per stream.
    static func fanoutOne(_ target: MeshRuntime.QueryTarget?, name: String, _ start: ExecStart, deadline: ContinuousClock.Instant,
                          runtime: MeshRuntime, node: LocalServices) async -> ExecNodeResult {
        let began = ContinuousClock.now
        @Sendable func ask(_ query: NodeQuery) async throws(NodeQueryError) -> NodeReply {
            guard let target else { return await node.answer(query) }
            let left = deadline - .now
            guard left > .zero else { throw .unreachable(name, reason: "no answer in time") }
            return try await runtime.ask(target, query, timeout: min(AgentLimits.nodeQueryTimeout, left))
        }
        func noAnswer(_ error: NodeQueryError) -> ExecNodeResult {
            let late = ContinuousClock.now - began >= AgentLimits.nodeQueryTimeout || ContinuousClock.now >= deadline
            return ExecNodeResult(node: name, status: late ? "timeout" : "unreachable", detail: error.description)
        }
        let session: String
        do throws(NodeQueryError) {
            switch try await ask(.execStart(start)) {
            case let .execStarted(s): session = s
            case let .execRefused(r): return ExecNodeResult(node: name, status: "refused", detail: r.description)
            case let other: return ExecNodeResult(node: name, status: "refused", detail: "unexpected answer \(other)")
            }
        } catch {
            return noAnswer(error)
        }
        var out = ExecOutputBuffer(maxKeptBytes: AgentLimits.maxExecFanoutOutputBytes, maxHeldBytes: .max)
        var err = ExecOutputBuffer(maxKeptBytes: AgentLimits.maxExecFanoutOutputBytes, maxHeldBytes: .max)
        var poll = ExecPoll(session: session, stdout: 0, stderr: 0)
        var last: ExecChunk?
        while ContinuousClock.now < deadline {
            do throws(NodeQueryError) {
                switch try await ask(.execPoll(poll)) {
                case let .execOutput(chunk):
                    out.append([UInt8](chunk.stdout)); err.append([UInt8](chunk.stderr))
                    poll.stdout = chunk.stdoutNext; poll.stderr = chunk.stderrNext
                    last = chunk
                    if chunk.done {
                        return ExecNodeResult(node: name, status: chunk.status.rawValue, exitCode: chunk.exitCode, signal: chunk.signal,
                                              stdout: text(out), stderr: text(err), truncated: chunk.truncated || out.truncated || err.truncated,
                                              seconds: chunk.seconds)
                    }
                    if !chunk.stdout.isEmpty || !chunk.stderr.isEmpty { continue }
                case let .execRefused(r): return ExecNodeResult(node: name, status: "refused", detail: r.description)
                default: break
                }
            } catch {
                if ContinuousClock.now >= deadline { break }
            }
            try? await Task.sleep(for: AgentLimits.execPollInterval)
        }
        _ = try? await ask(.execCancel(session: session))
        return ExecNodeResult(node: name, status: "timeout", stdout: text(out), stderr: text(err),
                              truncated: last?.truncated ?? false, detail: "no final answer within the timeout")
    }

    private static func text(_ b: ExecOutputBuffer) -> String {
        String(decoding: b.read(from: 0, maxBytes: .max, final: true).bytes, as: UTF8.self)
    }
}

/// Which members a fan-out runs on (pure): live members with the tag are asked; members
/// with it that membership holds dead are listed `unreachable` without asking; members
/// that left are not listed.
enum ExecFanout {
    struct Selection {
        var ask: [String]
        var unreachable: [(name: String, why: String)]
    }

    static func select(_ members: [MemberInfo], tag: (key: String, value: String)?) -> Selection {
        var selection = Selection(ask: [], unreachable: [])
        for m in members where tag.map({ m.tags[$0.key] == $0.value }) ?? true {
            switch m.status {
            case "alive", "suspect": selection.ask.append(m.name)
            case "dead": selection.unreachable.append((m.name, "\(m.name) is dead in membership: not asked"))
            default: continue
            }
        }
        selection.ask.sort()
        return selection
    }
}
