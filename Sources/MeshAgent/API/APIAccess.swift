import Consensus
import Hummingbird
import MeshCore
import MeshWire
import Synchronization

/// Who may call which route (docs/INTERFACES.md "Access"): the role each route needs, and
/// the refusals counted by reason.
///
/// - An API on loopback serves local requests without a token unless `api_require_token`
///   is set: whoever can reach it is already on the machine (as today's README says).
/// - Otherwise every request carries `Authorization: Bearer <secret>`; the secret's hash
///   must name a token of the control state (this agent's replica) whose role covers the
///   route. A refusal is 401 (no or unknown token) or 403 (a role too low), counted in
///   `meshd_api_refused_total{reason}`, and never reaches a handler.
/// - `POST /v1/tokens/bootstrap` needs no token: the control state accepts it only while
///   the mesh has no token at all, so it mints the first admin token exactly once.
struct APIAccess: Sendable {
    /// Whether requests need a token.
    let requireToken: Bool
    /// The hash of a presented secret -> its token, from this agent's control state.
    let lookup: @Sendable (String) async -> TokenEntry?
    let refusals: APIRefusals

    /// Why a request was refused: the access check's reasons (before any handler), then
    /// the handlers' refusals of what no handler may act on.
    enum Refusal: String, CaseIterable, Sendable {
        case missingToken = "missing_token"
        case unknownToken = "unknown_token"
        case insufficientRole = "insufficient_role"
        /// A log, workload or variable name that cannot exist (traversal, absolute path, NUL): 400.
        case badName = "bad_name"
        /// A body past `AgentLimits.maxRequestBodyBytes`: 413.
        case bodyTooLarge = "body_too_large"
        /// A write the agent's full disk had no room for: 507.
        case storageFull = "storage_full"
        /// A write the agent's disk failed (an I/O error): 507.
        case storageIOError = "storage_io_error"
    }

    /// The role a request needs; nil for the one route open to all (bootstrap).
    static func requiredRole(method: HTTPRequest.Method, path: String) -> TokenRole? {
        if method == .post, path == "/v1/tokens/bootstrap" { return nil }
        // The dashboard page holds no data (its script asks the API, with the token the user gives it).
        if method == .get || method == .head, path == "/" { return nil }
        if path == "/v1/tokens" || path.hasPrefix("/v1/tokens/") || path.hasPrefix("/v1/keys")
            || path == "/v1/join" || path == "/v1/leave" || path.hasPrefix("/v1/raft/")
            || (path.hasPrefix("/v1/members/") && method != .get && method != .head) {
            return .admin
        }
        // exec and attach run commands and read their output: never for a read token.
        if path == "/v1/exec" || path.hasPrefix("/v1/exec/") || path.hasPrefix("/v1/attach/") {
            return method == .get || method == .head || method == .post || method == .put || method == .delete || method == .patch
                ? .operate : .admin
        }
        switch method {
        case .get, .head: return .read
        case .post, .put, .delete, .patch: return .operate
        default: return .admin   // fail closed for anything unforeseen
        }
    }

    /// Checks one request; returns who asked (`token:NAME`), nil when no token was needed.
    func check(_ request: Request) async throws -> String? {
        guard requireToken else { return nil }
        guard let role = Self.requiredRole(method: request.method, path: request.uri.path) else { return nil }
        guard let auth = request.headers[.authorization], auth.hasPrefix("Bearer "), auth.count > "Bearer ".count else {
            throw refuse(.missingToken, "this API needs a token: meshctl --token SECRET (or MESH_TOKEN); an admin makes one with `meshctl token create`")
        }
        let secret = String(auth.dropFirst("Bearer ".count))
        guard let token = await lookup(TokenSecret.hash(secret)) else {
            throw refuse(.unknownToken, "the token is not known to this mesh (revoked, or never created)")
        }
        guard token.role >= role else {
            throw refuse(.insufficientRole, "token \(token.name) has role \(token.role.rawValue); \(request.method) \(request.uri.path) needs \(role.rawValue)")
        }
        return "token:\(token.name)"
    }

    private func refuse(_ reason: Refusal, _ detail: String) -> APIFailure {
        refusals.count(reason)
        let status: HTTPResponse.Status = reason == .insufficientRole ? .forbidden : .unauthorized
        return .http(status: status, detail: detail)
    }
}

/// Refused API requests by reason, for `/metrics`.
final class APIRefusals: Sendable {
    private let counts = Mutex<[APIAccess.Refusal: UInt64]>([:])
    func count(_ r: APIAccess.Refusal) { counts.withLock { $0[r, default: 0] &+= 1 } }
    var snapshot: [APIAccess.Refusal: UInt64] { counts.withLock { $0 } }

    var metricsText: String {
        var p = PrometheusText()
        let c = snapshot
        p.family("meshd_api_refused_total", .counter, help: "API requests refused, by reason: no, unknown or too weak a token (before any handler), a name that cannot exist, a body too large, a write the agent's disk could not take (full, or an I/O error).",
                 APIAccess.Refusal.allCases.map { (labels: [("reason", $0.rawValue)], value: Double(c[$0] ?? 0)) })
        return p.text
    }
}

/// Runs the access check before every route and hands the route who asked.
struct AccessMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    let access: APIAccess

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.requester = try await access.check(request)
        return try await next(request, context)
    }
}
