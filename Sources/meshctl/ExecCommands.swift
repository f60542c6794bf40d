import ArgumentParser
import Foundation
import Synchronization
import MeshAPI
import MeshClient

/// `meshctl exec NODE|NAME.INSTANCE -- CMD...` and `meshctl exec --all|--tag K=V -- CMD...`.
struct Exec: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a command on a node (or in an instance's directory and environment), or on every matching node at once.",
        discussion: """
        With a target, the output is streamed and meshctl exits with the command's status
        (128+N when signal N ended it, 124 when it was killed at the timeout, 1 when the agent
        refused). With --all or --tag, every matching live node runs it at once and one table
        gathers each node's status and output; a node that does not answer in time is listed
        as timeout or unreachable, and meshctl exits 1 unless every node exited 0.
        Needs an operate or admin token where the API asks for tokens; each use is an
        exec.started event.
        Examples:
          meshctl exec pi-3 -- uptime
          meshctl exec web.0 -- ls -la
          meshctl exec --all -- df -h /
          meshctl exec --tag zone=eu --timeout 30 -- systemctl is-active nginx
        """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "A member's name, or NAME.INSTANCE (not with --all or --tag).") var target: String?
    @Flag(help: "Run it on every live member.") var all = false
    @Option(help: "Run it on the live members with tag KEY=VALUE.") var tag: String?
    @Option(help: "Seconds before its process group is killed (default 60; 10 with --all or --tag; at most 3600).")
    var timeout: Int?
    @Argument(parsing: .postTerminator, help: "-- COMMAND ARGS...") var command: [String] = []

    /// How often the output is asked for while none came.
    static let pollInterval = Duration.milliseconds(250)

    func validate() throws {
        guard !command.isEmpty else { throw ValidationError("give the command after --, e.g. meshctl exec pi-3 -- uptime") }
        let chosen = (target == nil ? 0 : 1) + (all ? 1 : 0) + (tag == nil ? 0 : 1)
        guard chosen == 1 else { throw ValidationError("name one target: NODE, NAME.INSTANCE, --all or --tag KEY=VALUE") }
        if let tag, !tag.contains("=") { throw ValidationError("--tag \(tag): KEY=VALUE") }
        if let timeout, timeout < 1 { throw ValidationError("--timeout takes whole seconds, 1 or more") }
    }

    func run() async throws {
        guard let target else {
            let body = ExecFanoutRequest(command: command, tag: tag, timeoutSeconds: timeout)
            try await global.show([ExecNodeResult].self, { c throws(ClientError) in try await c.post("/v1/exec/fanout", body: body) },
                                  human: Views.execResults, succeeded: { $0.allSatisfy(\.succeeded) })
            return
        }
        let client = global.client
        // Armed before the start: a Ctrl-C while the start is on its way still ends the
        // command on its node, once its session is known.
        let interrupt = Interrupt()
        let cancel = Self.cancelOnInterrupt(client, interrupt)
        defer { cancel.forEach { $0.cancel() } }
        let started: ExecStartInfo
        do {
            started = try APIClient.decode(ExecStartInfo.self,
                                           try await client.post("/v1/exec", body: ExecRequest(target: target, command: command, timeoutSeconds: timeout)))
        } catch {
            FileHandle.standardError.write(Data("meshctl: \(error)\n".utf8))
            throw ExitCode(1)
        }
        let path = "/v1/exec/" + started.session
        if interrupt.started(path + "?node=" + (started.node.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? started.node)) {
            _ = try? await client.delete(interrupt.sessionPath!)
            throw ExitCode(130)
        }
        var cursors = ("0", "0")
        while true {
            let chunk: ExecOutputInfo, data: Data
            do {
                data = try await client.get(path, query: [("node", started.node), ("stdout", cursors.0), ("stderr", cursors.1)])
                chunk = try APIClient.decode(ExecOutputInfo.self, data)
            } catch {
                FileHandle.standardError.write(Data("meshctl: \(error)\n".utf8))
                throw ExitCode(1)
            }
            if global.json {
                FileHandle.standardOutput.write(data.last == UInt8(ascii: "\n") ? data : data + Data("\n".utf8))
            } else {
                if !chunk.stdout.isEmpty { FileHandle.standardOutput.write(Data(chunk.stdout.utf8)) }
                if !chunk.stderr.isEmpty { FileHandle.standardError.write(Data(chunk.stderr.utf8)) }
            }
            cursors = (chunk.stdoutCursor, chunk.stderrCursor)
            if chunk.done { throw ExitCode(Self.exitStatus(chunk, timeoutSeconds: started.timeoutSeconds, json: global.json)) }
            if chunk.stdout.isEmpty && chunk.stderr.isEmpty { try await Task.sleep(for: Self.pollInterval) }
        }
    }

    /// Ctrl-C (SIGINT) or SIGTERM ends the command on its node at once (`DELETE`), as ssh
    /// does, rather than when the node notices nobody reads its output; meshctl then exits 130.
    static func cancelOnInterrupt(_ client: APIClient, _ interrupt: Interrupt) -> [any DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { sig -> any DispatchSourceSignal in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                // Before the session is known, `run` ends it as soon as its start answers.
                guard let path = interrupt.interrupted() else { return }
                Task {
                    _ = try? await client.delete(path)
                    Foundation.exit(130)
                }
            }
            source.resume()
            return source
        }
    }

    /// meshctl's exit status for how the command ended (a note on stderr when it did not exit).
    static func exitStatus(_ chunk: ExecOutputInfo, timeoutSeconds: Int, json: Bool) -> Int32 {
        func note(_ text: String) { if !json { FileHandle.standardError.write(Data("meshctl: \(text)\n".utf8)) } }
        if chunk.truncated { note("output past the limit was dropped on \(chunk.node)") }
        switch chunk.status {
        case "exited": return chunk.exitCode ?? 1
        case "killed": return 128 + (chunk.signal ?? 0)
        case "timeout": note("killed on \(chunk.node) after the timeout of \(timeoutSeconds) s"); return 124
        default: note("\(chunk.status) on \(chunk.node)"); return 1
        }
    }
}

/// `meshctl attach NAME.INSTANCE`: follow its output, send stdin lines to it.
struct Attach: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Follow an instance's output (stdout and stderr) and send the lines typed on stdin to its stdin.",
        discussion: """
        The instance must have been started with a stdin (meshctl local run --stdin) to take
        input; its output is followed from now on. Ctrl-C detaches (the instance keeps
        running). Needs an operate or admin token where the API asks for tokens; each attach
        is an exec.attached event, each line sent an exec.stdin event.
        Examples:
          meshctl attach repl.0
          meshctl attach worker.2 --node pi-3
        """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "NAME.INSTANCE (or NAME when it has one instance).") var instance: String
    @Option(help: "The node that runs it (default: found by asking the members).") var node: String?

    static let pollInterval = Duration.milliseconds(250)

    func run() async throws {
        let client = global.client
        let escaped = instance.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? instance
        let nodeQuery = node.map { "?node=" + ($0.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? $0) } ?? ""
        let info: AttachInfo
        do {
            info = try APIClient.decode(AttachInfo.self, try await client.post("/v1/attach/\(escaped)\(nodeQuery)", body: Optional<StdinRequest>.none))
        } catch {
            FileHandle.standardError.write(Data("meshctl: \(error)\n".utf8))
            throw ExitCode(1)
        }
        let exact = info.instance.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? info.instance
        let stdinPath = "/v1/attach/\(exact)/stdin?node=" + (info.node.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? info.node)
        // Lines typed are read on a thread of their own (reading blocks) and sent in order.
        let (lines, sink) = AsyncStream.makeStream(of: String.self)
        Thread.detachNewThread {
            while let line = readLine(strippingNewline: false) { sink.yield(line) }
            sink.finish()
        }
        let sender = Task {
            for await line in lines {
                do { _ = try await client.post(stdinPath, body: StdinRequest(text: line)) } catch {
                    FileHandle.standardError.write(Data("meshctl: \(error)\n".utf8))
                }
            }
        }
        defer { sender.cancel() }
        var cursors = [LogStream.stdout: info.stdoutCursor, .stderr: info.stderrCursor]
        while true {
            var quiet = true
            for stream in [LogStream.stdout, .stderr] {
                let chunk: LogChunkInfo
                do {
                    chunk = try APIClient.decode(LogChunkInfo.self, try await client.get("/v1/logs/\(exact)", query: [
                        ("node", info.node), ("stream", stream.rawValue), ("format", "json"), ("cursor", cursors[stream]!),
                    ]))
                } catch {
                    FileHandle.standardError.write(Data("meshctl: \(error)\n".utf8))
                    throw ExitCode(1)
                }
                cursors[stream] = chunk.cursor
                guard !chunk.text.isEmpty else { continue }
                quiet = false
                (stream == .stdout ? FileHandle.standardOutput : FileHandle.standardError).write(Data(chunk.text.utf8))
            }
            if quiet { try await Task.sleep(for: Self.pollInterval) }
        }
    }

    enum LogStream: String { case stdout, stderr }
}

/// A Ctrl-C and the session it must end, whichever comes first.
final class Interrupt: Sendable {
    private let state = Mutex<(path: String?, interrupted: Bool)>((nil, false))

    var sessionPath: String? { state.withLock { $0.path } }

    /// The signal arrived: the session's path when it is known (end it now), else nil.
    func interrupted() -> String? { state.withLock { $0.interrupted = true; return $0.path } }

    /// The session started at `path`: true when a signal came before it (end it now).
    func started(_ path: String) -> Bool { state.withLock { $0.path = path; return $0.interrupted } }
}
