import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MeshAPI

/// A client of one agent's HTTP API (Foundation's URLSession), for meshctl and tests.
/// Every call returns the raw JSON body, so `--json` prints exactly what the agent said.
public struct APIClient: Sendable {
    /// The longest a request may take: key rotation waits up to a few seconds for every
    /// member, a leave up to its propagation bound.
    public static let requestTimeout: Duration = .seconds(30)
    /// The largest answer the client accepts.
    public static let maxResponseBytes = 16 * 1024 * 1024

    public let address: String
    public let token: String?
    /// Whom the requests are made for (`meshctl --as`), sent as `X-Mesh-User`; the agent
    /// records it in the events of the changes it makes.
    public let user: String?

    /// `address` is `HOST:PORT` (or a full `http://` URL).
    public init(address: String, token: String?, user: String? = nil) {
        self.address = address
        self.token = token.flatMap { $0.isEmpty ? nil : $0 }
        self.user = user.flatMap { $0.isEmpty ? nil : $0 }
    }

    var baseURL: String { address.hasPrefix("http://") || address.hasPrefix("https://") ? address : "http://\(address)" }

    /// `GET path` (with an optional query), the body of a 2xx answer.
    public func get(_ path: String, query: [(String, String)] = []) async throws(ClientError) -> Data {
        try await send("GET", path, query: query, body: nil)
    }

    /// `POST path` with a JSON body, the body of a 2xx answer.
    public func post(_ path: String, body: (some Encodable)?) async throws(ClientError) -> Data {
        var data: Data?
        if let body {
            do { data = try JSONEncoder().encode(body) } catch { throw .badResponse("cannot encode the request: \(error)") }
        }
        return try await send("POST", path, query: [], body: data)
    }

    /// `PUT path` with a JSON body, the body of a 2xx answer.
    public func put(_ path: String, body: some Encodable) async throws(ClientError) -> Data {
        let data: Data
        do { data = try JSONEncoder().encode(body) } catch { throw .badResponse("cannot encode the request: \(error)") }
        return try await send("PUT", path, query: [], body: data)
    }

    /// `DELETE path`, the body of a 2xx answer.
    public func delete(_ path: String) async throws(ClientError) -> Data {
        try await send("DELETE", path, query: [], body: nil)
    }

    /// Decodes a body returned by `get`/`post`.
    public static func decode<T: Decodable>(_ type: T.Type, _ data: Data) throws(ClientError) -> T {
        do { return try JSONDecoder().decode(T.self, from: data) } catch {
            throw .badResponse("unexpected answer (\(error)): \(String(decoding: data.prefix(200), as: UTF8.self))")
        }
    }

    private func send(_ method: String, _ path: String, query: [(String, String)], body: Data?) async throws(ClientError) -> Data {
        guard var components = URLComponents(string: baseURL + path) else { throw .badAddress(address) }
        if !query.isEmpty { components.queryItems = query.map { URLQueryItem(name: $0.0, value: $0.1) } }
        guard let url = components.url, components.host != nil else { throw .badAddress(address) }
        var request = URLRequest(url: url, timeoutInterval: Self.requestTimeout.seconds)
        request.httpMethod = method
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let user { request.setValue(user, forHTTPHeaderField: "X-Mesh-User") }
        if let body {
            request.httpBody = body
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let data: Data, response: URLResponse
        do { (data, response) = try await URLSession.shared.data(for: request) } catch {
            throw .unreachable(address: address, reason: error.localizedDescription)
        }
        guard data.count <= Self.maxResponseBytes else { throw .badResponse("answer of \(data.count) bytes") }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard (200 ..< 300).contains(status) else {
            let body = try? JSONDecoder().decode(APIErrorBody.self, from: data)
            throw .server(status: status, body: body ?? APIErrorBody(error: "http_\(status)", detail: String(decoding: data.prefix(500), as: UTF8.self)))
        }
        return data
    }
}

extension Duration {
    fileprivate var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}

/// Why a request to the agent failed; the message says what to do.
public enum ClientError: Error, Sendable, CustomStringConvertible {
    case badAddress(String)
    case unreachable(address: String, reason: String)
    case server(status: Int, body: APIErrorBody)
    case badResponse(String)

    public var description: String {
        switch self {
        case let .badAddress(a): "\(a) is not HOST:PORT"
        case let .unreachable(a, reason):
            "cannot reach the agent at \(a): \(reason) (is meshd running? set --addr or MESH_ADDR)"
        case let .server(status, body): "\(body.detail ?? body.error) (\(body.error), HTTP \(status))"
        case let .badResponse(why): "the agent answered something unexpected: \(why)"
        }
    }
}
