/// `POST /v1/exec` body: run a command on one node, or in one instance's working directory
/// and environment on the node that runs it (`meshctl exec TARGET -- CMD...`).
public struct ExecRequest: Codable, Sendable, Equatable {
    /// A member's name (or id prefix), else `NAME.INSTANCE` (the node that runs it is found).
    public var target: String
    /// The program (a path or a name in PATH) and its arguments.
    public var command: [String]
    /// After this many seconds the process group is killed (default and limit in
    /// docs/INTERFACES.md, "exec limits").
    public var timeoutSeconds: Int?

    public init(target: String, command: [String], timeoutSeconds: Int? = nil) {
        self.target = target; self.command = command; self.timeoutSeconds = timeoutSeconds
    }

    enum CodingKeys: String, CodingKey {
        case target, command, timeoutSeconds = "timeout_seconds"
    }
}

/// The answer to `POST /v1/exec`: the command runs; its output is read with
/// `GET /v1/exec/:session?node=NODE` from the cursors each answer gives.
public struct ExecStartInfo: Codable, Sendable, Equatable {
    public var session: String
    public var node: String
    /// The instance whose directory and environment it runs in, when one was named.
    public var instance: String?
    public var command: [String]
    public var timeoutSeconds: Int

    public init(session: String, node: String, instance: String?, command: [String], timeoutSeconds: Int) {
        self.session = session; self.node = node; self.instance = instance; self.command = command
        self.timeoutSeconds = timeoutSeconds
    }

    enum CodingKeys: String, CodingKey {
        case session, node, instance, command, timeoutSeconds = "timeout_seconds"
    }
}

/// A chunk of a running command's output (`GET /v1/exec/:session`), and at the end how it
/// ended.
public struct ExecOutputInfo: Codable, Sendable, Equatable {
    public var node: String
    public var session: String
    /// Output since the cursors asked for (UTF-8; a character cut by a read waits for the next chunk).
    public var stdout: String
    public var stderr: String
    /// Byte offsets of the next output in each stream, as strings: the next request's `stdout` and `stderr`.
    public var stdoutCursor: String
    public var stderrCursor: String
    /// `running`; at the end `exited`, `killed` (a signal), `timeout` (killed at the
    /// timeout) or `cancelled` (its client went away or cancelled it).
    public var status: String
    /// True once every byte of output has been given and `status` is final.
    public var done: Bool
    public var exitCode: Int32?
    public var signal: Int32?
    /// Output past the limit of bytes kept was dropped (the process was not blocked).
    public var truncated: Bool
    /// How long it ran, once ended.
    public var seconds: Double?

    public init(node: String, session: String, stdout: String, stderr: String, stdoutCursor: String, stderrCursor: String,
                status: String, done: Bool, exitCode: Int32?, signal: Int32?, truncated: Bool, seconds: Double?) {
        self.node = node; self.session = session; self.stdout = stdout; self.stderr = stderr
        self.stdoutCursor = stdoutCursor; self.stderrCursor = stderrCursor; self.status = status; self.done = done
        self.exitCode = exitCode; self.signal = signal; self.truncated = truncated; self.seconds = seconds
    }

    enum CodingKeys: String, CodingKey {
        case node, session, stdout, stderr, status, done, signal, truncated, seconds
        case stdoutCursor = "stdout_cursor", stderrCursor = "stderr_cursor", exitCode = "exit_code"
    }
}

/// `POST /v1/exec/fanout` body: run a command on every live member, or on those with a tag.
public struct ExecFanoutRequest: Codable, Sendable, Equatable {
    public var command: [String]
    /// `KEY=VALUE`: only members with that tag; absent: every live member.
    public var tag: String?
    public var timeoutSeconds: Int?

    public init(command: [String], tag: String? = nil, timeoutSeconds: Int? = nil) {
        self.command = command; self.tag = tag; self.timeoutSeconds = timeoutSeconds
    }

    enum CodingKeys: String, CodingKey {
        case command, tag, timeoutSeconds = "timeout_seconds"
    }
}

/// One node's row of a fan-out (`POST /v1/exec/fanout`, `meshctl exec --all`).
public struct ExecNodeResult: Codable, Sendable, Equatable {
    public var node: String
    /// `exited`, `killed`, `timeout` (killed at the timeout, or no answer in time),
    /// `unreachable` (could not be asked, or dead in membership), `refused` (too busy, or
    /// the command could not start: `detail` says why).
    public var status: String
    public var exitCode: Int32?
    public var signal: Int32?
    /// Its output, up to the fan-out's limit of bytes kept per node.
    public var stdout: String
    public var stderr: String
    public var truncated: Bool
    public var seconds: Double?
    public var detail: String?

    public init(node: String, status: String, exitCode: Int32? = nil, signal: Int32? = nil, stdout: String = "",
                stderr: String = "", truncated: Bool = false, seconds: Double? = nil, detail: String? = nil) {
        self.node = node; self.status = status; self.exitCode = exitCode; self.signal = signal; self.stdout = stdout
        self.stderr = stderr; self.truncated = truncated; self.seconds = seconds; self.detail = detail
    }

    enum CodingKeys: String, CodingKey {
        case node, status, signal, stdout, stderr, truncated, seconds, detail
        case exitCode = "exit_code"
    }

    /// Exited with status 0.
    public var succeeded: Bool { status == "exited" && exitCode == 0 }
}

/// The answer to `POST /v1/attach/:id`: where the instance runs and where its output ends
/// now; its output is then followed with `GET /v1/logs/:id?node=NODE&cursor=...`.
public struct AttachInfo: Codable, Sendable, Equatable {
    public var node: String
    public var instance: String
    public var stdoutCursor: String
    public var stderrCursor: String

    public init(node: String, instance: String, stdoutCursor: String, stderrCursor: String) {
        self.node = node; self.instance = instance; self.stdoutCursor = stdoutCursor; self.stderrCursor = stderrCursor
    }

    enum CodingKeys: String, CodingKey {
        case node, instance, stdoutCursor = "stdout_cursor", stderrCursor = "stderr_cursor"
    }
}

/// `POST /v1/attach/:id/stdin` body: bytes for the instance's stdin (a line, usually).
public struct StdinRequest: Codable, Sendable, Equatable {
    public var text: String
    public init(text: String) { self.text = text }
}

/// The answer to `POST /v1/attach/:id/stdin`.
public struct StdinResult: Codable, Sendable, Equatable {
    public var node: String
    public var instance: String
    public var bytes: Int
    public init(node: String, instance: String, bytes: Int) { self.node = node; self.instance = instance; self.bytes = bytes }
}
