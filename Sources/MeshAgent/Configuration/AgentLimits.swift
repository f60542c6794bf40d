/// Every limit and timeout of the agent runtime (the shell around the cores), named in one
/// place. The protocol's own timing lives in `MembershipSettings`.
public enum AgentLimits {
    /// Batches of received datagrams waiting while the agent starts, before its runtime is
    /// attached to the socket; beyond it new batches are dropped and counted
    /// (`meshd_datagrams_dropped_total`), so a flood cannot grow memory.
    public static let inboundQueueBatches = 128
    /// Datagrams NIO reads per socket wake-up, which is also the largest inbound batch.
    public static let datagramsPerRead = 16
    /// How long after start the agent releases the executable's pages that start-up
    /// touched (`StartupPages`).
    public static let startupPagesReleaseDelay: Duration = .seconds(20)
    /// How long a push-pull exchange over TCP may take (connect, send, reply) before it is
    /// abandoned; the core needs no report of a failed exchange.
    public static let streamExchangeTimeout: Duration = .seconds(5)
    /// How long an inbound TCP connection may stay open without delivering its frame.
    public static let inboundStreamIdleTimeout: Duration = .seconds(10)
    /// Inbound TCP connections on the mesh port open at once; more are closed on accept, so
    /// a connection flood cannot exhaust file descriptors.
    public static let maxInboundStreams = 64
    /// How many OS-chosen ports (`--bind HOST:0`) are tried before giving up when the
    /// UDP port the OS picked is already taken for TCP.
    public static let ephemeralPortAttempts = 8
    /// Push-pull exchanges this agent runs at once; more are skipped until one finishes.
    public static let maxConcurrentExchanges = 16
    /// The longest a graceful leave waits for the core's `.leftMesh` (on top of the
    /// profile's `leavePropagation`, which the core bounds itself) before the agent exits anyway.
    public static let leaveGrace: Duration = .seconds(2)
    /// How long `keys install|use|remove|list` waits for every live member's answer.
    public static let keyringReplyTimeout: Duration = .seconds(3)
    /// How often an unanswered keyring command is sent again within that wait.
    public static let keyringRetransmitInterval: Duration = .milliseconds(500)
    /// Keyring requests whose answers this agent remembers, so a retransmitted command is
    /// answered with the first result instead of being applied twice.
    public static let rememberedKeyringRequests = 256
    /// The shortest time between two timer wake-ups of the runtime.
    public static let minimumTimerGap: Duration = .milliseconds(1)
    /// The kernel receive buffer of the mesh socket, so bursts are queued, not lost.
    public static let socketReceiveBufferBytes = 4 * 1024 * 1024
    /// The kernel send buffer of the agent's UDP sockets. Datagrams are sent without
    /// blocking; one that finds the buffer full is lost and counted (`reason="eagain"`).
    public static let socketSendBufferBytes = 1024 * 1024
    /// A failed send to the same peer is logged at most once in this interval (every one is counted).
    public static let sendErrorLogInterval: Duration = .seconds(60)
    /// Peers whose last logged send failure is remembered for that interval.
    public static let sendErrorLogPeers = 1024
    /// The first wait before a closed listening socket is bound again; it doubles while
    /// the bind fails, up to `socketRebindMaxBackoff`.
    public static let socketRebindInitialBackoff: Duration = .milliseconds(100)
    public static let socketRebindMaxBackoff: Duration = .seconds(5)
    /// The largest HTTP request body the API reads; a larger one is answered 413.
    public static let maxRequestBodyBytes = 64 * 1024
    /// How long an API connection may go without a complete request head, or sit idle
    /// between requests, before the agent closes it (Hummingbird's `idleTimeout`): a client
    /// that sends its headers byte by byte (slow loris) holds a connection this long at most.
    /// A response being written (`logs -f`) is not idle.
    public static let apiIdleTimeout: Duration = .seconds(10)
    /// Addresses one `POST /v1/join` may name.
    public static let maxJoinAddressesPerRequest = 64
    /// How long a node query (`ps`, `logs`, `stats` of another member) waits for the answer;
    /// a member that does not answer in time is shown as unreachable.
    public static let nodeQueryTimeout: Duration = .seconds(3)
    /// Members asked at once by a mesh-wide query (`ps`); the rest wait for a free slot.
    public static let maxNodeQueryFanOut = 16
    /// The most output bytes one log request returns (a frame holds it with room to spare).
    public static let maxLogChunkBytes = 256 * 1024
    /// The most lines `logs --tail N` asks for.
    public static let maxLogTailLines = 100_000
    /// How often a followed log (`logs -f`) asks the instance's node for new output.
    public static let logFollowPollInterval: Duration = .milliseconds(250)
    /// Failed polls in a row after which a followed log ends (its node is gone).
    public static let logFollowMaxFailures = 20
    /// Stats history returned by default, and at most, by `GET /v1/stats`.
    public static let defaultStatsHistory: Duration = .seconds(900)
    public static let maxStatsHistory: Duration = .seconds(86_400)
    /// Members kept in `data_dir/peers` and joined again on a restart (`PeersSnapshot`).
    public static let rejoinPeers = 16
    /// The largest `peers` file read back (anything larger is not ours; it is ignored).
    public static let maxPeersFileBytes = 64 * 1024
    /// How often the live members are compared with the `peers` file (written on a change).
    public static let peersSnapshotInterval: Duration = .seconds(10)

    // MARK: exec and attach (`meshctl exec`, `meshctl attach`)

    /// The longest command line `exec` runs: the program and its arguments, in UTF-8 bytes
    /// with one separator each (a body is 64 KiB at most anyway; this keeps events and
    /// frames small).
    public static let maxExecCommandBytes = 8 * 1024
    /// Commands `exec` runs at once on one node (single and fan-out alike); one more is
    /// refused with 429 `too_many_requests`, not queued.
    public static let maxConcurrentExecs = 8
    /// The timeout of `meshctl exec NODE` when none is given, and of a fan-out (`--all`, `--tag`).
    public static let defaultExecTimeoutSeconds = 60
    public static let defaultExecFanoutTimeoutSeconds = 10
    /// The longest timeout either may ask for. At the timeout the command's process group
    /// gets SIGKILL.
    public static let maxExecTimeoutSeconds = 3600
    /// Output bytes one command may produce per stream (stdout, stderr) that are kept and
    /// streamed; what follows is read and dropped (the answer says `truncated`).
    public static let maxExecOutputBytes = 8 * 1024 * 1024
    /// Output bytes of one stream held on the node until its reader fetches them; while
    /// that much waits the pipe is not read, so a command writing faster than its reader
    /// takes is slowed, not cut. Also the most one answer carries per stream.
    public static let maxExecChunkBytes = 256 * 1024
    /// Output kept per node and stream in a fan-out's table (`--all`); the rest is dropped.
    public static let maxExecFanoutOutputBytes = 64 * 1024
    /// A running command whose output nobody asked for this long (its client or relaying
    /// agent went away) is killed, as at its timeout, with status `cancelled`.
    public static let execAbandonAfter: Duration = .seconds(15)
    /// How long an ended command's last output and status wait for their reader.
    public static let execResultRetention: Duration = .seconds(60)
    /// How often the agent looks for abandoned and expired commands.
    public static let execSweepInterval: Duration = .seconds(1)
    /// How often a fan-out asks each node for its command's output.
    public static let execPollInterval: Duration = .milliseconds(250)
    /// How long after the timeout a fan-out still waits for a node's last answer before
    /// listing it `timeout`.
    public static let execFanoutGrace: Duration = .seconds(2)
    /// Bytes of a command line kept in its `exec.started` event (the rest is cut; the
    /// event's attributes are bounded).
    public static let execEventCommandBytes = 300
    /// The most bytes one `POST /v1/attach/:id/stdin` carries (the supervisor's
    /// `maxStdinWriteBytes`, PIPE_BUF: a write is whole or refused).
    public static let maxStdinWriteBytes = 4096
}
