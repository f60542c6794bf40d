import Foundation
import Hummingbird
import NIOCore

/// The API's request context: Hummingbird's basic one plus the client's address, so a
/// mutating request can record who asked.
struct APIRequestContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?
    /// Who asked, as the access check found it: `token:NAME`, or nil for a request that
    /// needed no token (`local`).
    var requester: String?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}

extension APIRequestContext {
    /// A path parameter (`:key` of the route), percent-decoded, "" when absent: clients
    /// escape `/`, spaces and `%` in names and keys (meshctl and the Python client do), and
    /// the router hands the segment over as it came, so `var set app/port` was stored as
    /// `app%2Fport` and `var ls app/` did not find it.
    func pathParameter(_ name: String) -> String {
        let raw = parameters.get(name) ?? ""
        return raw.removingPercentEncoding ?? raw
    }
}

extension APIRoutes {
    /// The header in which a client names the person or program it acts for (`meshctl --as`).
    static let userHeader = "X-Mesh-User"
    /// Longest `X-Mesh-User` value, in UTF-8 bytes (the event log caps an event's attributes).
    static let maxUserBytes = 64

    /// Who asked, as event attributes: `by` (the bearer token's first 8 characters, or
    /// `local`), `client` (the API client's address) and `user` (the `X-Mesh-User` header,
    /// when given). A malformed `X-Mesh-User` is refused.
    static func requesterAttributes(_ request: Request, context: APIRequestContext) throws -> [String: String] {
        var attributes = ["by": requester(context)]
        if let address = context.remoteAddress {
            attributes["client"] = clientText(address)
        }
        if let user = request.headers.first(where: { $0.name.canonicalName == userHeader.lowercased() })?.value {
            guard !user.isEmpty, user.utf8.count <= maxUserBytes,
                  user.unicodeScalars.allSatisfy({ $0.value >= 0x21 && $0.value < 0x7F }) else {
                throw APIFailure.badRequest("\(userHeader): 1-\(maxUserBytes) printable ASCII characters without spaces")
            }
            attributes["user"] = user
        }
        return attributes
    }

    /// `127.0.0.1:50412`, `[::1]:50412`, or a Unix socket's path.
    static func clientText(_ address: SocketAddress) -> String {
        guard let ip = address.ipAddress else { return address.pathname ?? "\(address)" }
        let host = ip.contains(":") ? "[\(ip)]" : ip
        return address.port.map { "\(host):\($0)" } ?? host
    }
}
