import Glibc
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

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
    let onServerRunning: @Sendable (any Channel) async -> Void

    static let serverName = "meshd"

    /// The connection failed to parse while its response was being written.
    struct ParseErrorWhileWritingResponse: Error {}

    func run() async throws {
        let responder = self.responder
        let logger = self.logger
        let server = try HTTPServerBuilder.http1().buildServer(
            configuration: .init(address: address, serverName: Self.serverName),
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            logger: logger,
            responder: { request, responseWriter, channel in
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
            },
            onServerRunning: onServerRunning)
        try await server.run()
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
