import Glibc
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import NIOSSL
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The HTTP API server: Hummingbird's router on Hummingbird's HTTP/1 server, run as a
/// `Service` of its own rather than through `Application`.
///
/// `Application` adds a date cache that formats the `Date` header with Foundation's
/// calendar, which loads ICU's data: about 2 MiB resident in every agent, for one header.
/// Here the header comes from `gmtime_r`. Everything else is what `Application.run` does:
/// the router answers, an error it did not turn into a response is a 500, and the
/// `Server` header names meshd.
struct APIServer: Service {
    let responder: RouterResponder<APIRequestContext>
    let address: BindAddress
    let logger: Logger
    /// Counts the listener's re-binds (`meshd_socket_rebinds_total{socket="api"}`).
    let socketErrors: SocketErrorCounters
    /// TLS, when configured (required for an API that is not on loopback).
    let tls: TLSConfiguration?
    let onServerRunning: @Sendable (any Channel) async -> Void

    static let serverName = "meshd"
    /// The API's own loop: its connections and handlers never hold up the mesh socket's.
    static let loops = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    /// The connection failed to parse while its response was being written.
    struct ParseErrorWhileWritingResponse: Error {}

    /// Serves until a graceful shutdown. A listener that fails to bind at start stops the
    /// agent; one that closes later while the agent runs is bound again after
    /// `AgentLimits.socketRebindInitialBackoff`, doubling up to `socketRebindMaxBackoff`
    /// while binds fail; each bind that serves again is counted as a re-bind.
    func run() async throws {
        let served = ServedCount()
        var delay = AgentLimits.socketRebindInitialBackoff
        while true {
            let before = served.value
            do { try await serve(served: served) } catch {
                guard before > 0 || served.value > 0 else { throw error }
                logger.warning("the API listener failed", metadata: ["error": "\(error)"])
            }
            if Task.isCancelled || Task.isShuttingDownGracefully { return }
            if served.value > before { delay = AgentLimits.socketRebindInitialBackoff }
            logger.warning("the API listener closed while the agent runs; binding it again", metadata: ["in": "\(delay)"])
            try? await Task.sleep(for: delay)
            if Task.isCancelled || Task.isShuttingDownGracefully { return }
            delay = min(delay * 2, AgentLimits.socketRebindMaxBackoff)
        }
    }

    /// How many times the listener has started serving.
    final class ServedCount: Sendable {
        private let count = Mutex(0)
        var value: Int { count.withLock { $0 } }
        func add() { count.withLock { $0 += 1 } }
    }

    private func serve(served: ServedCount) async throws {
        let responder = self.responder
        let logger = self.logger
        let http1 = HTTP1Channel(responder: { request, responseWriter, channel in
                let context = APIRequestContext(source: .init(channel: channel, logger: logger))
                var response: Response
                do {
                    response = try await responder.respond(to: request, context: context)
                } catch let error as HTTPParserError {
                    throw error
                } catch {
                    logger.debug("unhandled error in the API", metadata: ["error": "\(error)"])
                    response = Response(status: .internalServerError, body: .init())
                }
                response.headers[.date] = HTTPDate.now()
                response.headers[.server] = Self.serverName
                do {
                    try await responseWriter.write(response: response.head, body: response.body)
                } catch is HTTPParserError {
                    // Rethrown as itself, the parser's error would make the server write a
                    // second response.
                    throw ParseErrorWhileWritingResponse()
                }
            }, configuration: .init(idleTimeout: TimeAmount(AgentLimits.apiIdleTimeout)))
        let running: @Sendable (any Channel) async -> Void = { [socketErrors, onServerRunning] channel in
            if served.value > 0 { socketErrors.recordRebind(.api) }
            served.add()
            await onServerRunning(channel)   // again after a re-bind: a port 0 listener gets a new port
        }
        if let tls {
            try await serve(OnOwnLoop(inner: try TLSChannel(http1, tlsConfiguration: tls)), running: running)
        } else {
            try await serve(OnOwnLoop(inner: http1), running: running)
        }
    }

    private func serve<Child: ServerChildChannel>(_ child: Child, running: @escaping @Sendable (any Channel) async -> Void) async throws {
        try await child.server(configuration: .init(address: address, serverName: Self.serverName),
                               onServerRunning: running, eventLoopGroup: Self.loops, logger: logger).run()
    }

    /// The server side of TLS from PEM files: the certificate chain and its private key.
    static func tlsConfiguration(certificateFile: String, keyFile: String) throws -> TLSConfiguration {
        let chain = try NIOSSLCertificate.fromPEMFile(certificateFile).map { NIOSSLCertificateSource.certificate($0) }
        guard !chain.isEmpty else { throw APITLSError.noCertificate(certificateFile) }
        return TLSConfiguration.makeServerConfiguration(certificateChain: chain,
                                                        privateKey: .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem)))
    }
}

enum APITLSError: Error, CustomStringConvertible {
    case noCertificate(String)
    case notOnLoopbackWithoutTLS(String)

    var description: String {
        switch self {
        case let .noCertificate(file): "\(file) holds no PEM certificate"
        case let .notOnLoopbackWithoutTLS(address):
            "the API on \(address) is not on loopback: give api_tls_cert and api_tls_key (--api-tls-cert, --api-tls-key), "
                + "or bind it to 127.0.0.1; every request to it then needs a token (meshctl token bootstrap)"
        }
    }
}

/// Runs each connection's task (reading requests, the router and handlers, writing the
/// responses) on the event loop that owns the connection's socket, instead of on Swift's
/// cooperative pool. A request then reaches its handler, and its response the socket,
/// without waking another thread: two thread hand-offs fewer per request (measured on
/// the leader's write path: loop -> pool -> consensus -> pool -> loop before,
/// loop -> consensus -> loop now). Actor-isolated work still runs on its actor's own
/// executor; only the handlers' nonisolated code moves. Handlers must not block: they
/// await the services' actors, which do their disk work on their own threads.
struct OnOwnLoop<Inner: ServerChildChannel>: ServerChildChannel {
    typealias Value = Inner.Value
    let inner: Inner

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        inner.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        await withTaskExecutorPreference(EventLoopTaskExecutor(loop: value.channel.eventLoop)) {
            await inner.handle(value: value, logger: logger)
        }
    }
}

/// A NIO event loop as a Swift task executor: jobs run on the loop's thread, in order.
final class EventLoopTaskExecutor: TaskExecutor {
    let loop: any EventLoop

    init(loop: any EventLoop) { self.loop = loop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        loop.execute { job.runSynchronously(on: executor) }
    }
}

/// An HTTP date (RFC 9110 §5.6.7, IMF-fixdate), such as `Sun, 06 Nov 1994 08:49:37 GMT`.
enum HTTPDate {
    static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static func now() -> String { format(secondsSinceEpoch: time(nil)) }

    static func format(secondsSinceEpoch seconds: Int) -> String {
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
