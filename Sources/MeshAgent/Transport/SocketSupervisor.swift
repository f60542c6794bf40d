import Logging
import NIOCore
import Synchronization

/// Keeps one of the agent's listening sockets open for the agent's whole life: when its
/// channel closes while the agent is not stopping (a read error NIO treats as fatal, an
/// interface torn down under it), it is bound again after `backoff.initial`, doubling up
/// to `backoff.max` while the bind fails (the address may be gone until a DHCP renew).
/// The gap is logged when it ends and every re-bind is counted
/// (`meshd_socket_rebinds_total{socket}`). Self-healing starts with the agent's own sockets.
final class SocketSupervisor: Sendable {
    struct Backoff: Sendable {
        var initial: Duration
        var max: Duration

        static let agent = Backoff(initial: AgentLimits.socketRebindInitialBackoff, max: AgentLimits.socketRebindMaxBackoff)
    }

    /// What happened to the socket, for tests and logs.
    enum Event: Sendable {
        case closed
        case bindFailed(String)
        case rebound(gap: Duration)
    }

    let socket: AgentSocket
    let backoff: Backoff
    let errors: SocketErrorCounters
    let events: AsyncStream<Event>
    private let eventSink: AsyncStream<Event>.Continuation
    private let open: @Sendable () async throws -> any Channel

    private struct State {
        var channel: (any Channel)?
        var stopping = false
    }

    private let state = Mutex(State())

    /// `open` binds a new socket and returns its channel, ready to read.
    init(socket: AgentSocket, errors: SocketErrorCounters, backoff: Backoff = .agent,
         open: @escaping @Sendable () async throws -> any Channel) {
        self.socket = socket; self.errors = errors; self.backoff = backoff; self.open = open
        (events, eventSink) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .bufferingNewest(64))
    }

    /// Binds the socket the first time; a failure here is the caller's (the agent does not start).
    func start() async throws -> any Channel {
        let channel = try await open()
        adopt(channel)
        return channel
    }

    /// The socket's channel now; nil while it is being bound again.
    var channel: (any Channel)? { state.withLock { $0.channel } }

    /// Closes the socket for good (the agent stops).
    func stop() async {
        let channel = state.withLock { s -> (any Channel)? in
            s.stopping = true
            defer { s.channel = nil }
            return s.channel
        }
        try? await channel?.close()
        eventSink.finish()
    }

    private func adopt(_ channel: any Channel) {
        let stopping = state.withLock { s -> Bool in
            if !s.stopping { s.channel = channel }
            return s.stopping
        }
        if stopping { channel.close(promise: nil); return }
        channel.closeFuture.whenComplete { [self] _ in
            Task { await self.closed(channel) }
        }
    }

    private func closed(_ channel: any Channel) async {
        let current = state.withLock { s -> Bool in
            guard !s.stopping, let c = s.channel, c === channel else { return false }
            s.channel = nil
            return true
        }
        guard current else { return }
        eventSink.yield(.closed)
        let logger = errors.logger
        logger.warning("\(socket.rawValue) socket closed while the agent runs; binding it again", metadata: ["socket": "\(socket.rawValue)"])
        let down = ContinuousClock.now
        var delay = backoff.initial
        var failures = 0
        while !Task.isCancelled {
            try? await Task.sleep(for: delay)
            if state.withLock({ $0.stopping }) { return }
            do {
                let fresh = try await open()
                let gap = ContinuousClock.now - down
                errors.recordRebind(socket)
                logger.notice("\(socket.rawValue) socket bound again", metadata: [
                    "socket": "\(socket.rawValue)", "gap": "\(gap)", "failed_attempts": "\(failures)",
                ])
                adopt(fresh)
                eventSink.yield(.rebound(gap: gap))
                return
            } catch {
                failures += 1
                if failures == 1 || failures.isMultiple(of: 10) {
                    logger.warning("cannot bind the \(socket.rawValue) socket yet; retrying", metadata: [
                        "error": "\(error)", "attempts": "\(failures)", "next_in": "\(min(delay * 2, backoff.max))",
                    ])
                }
                eventSink.yield(.bindFailed("\(error)"))
                delay = min(delay * 2, backoff.max)
            }
        }
    }
}
