@testable import MeshAgent
import Consensus
import Hummingbird
import Testing

/// Which role each route needs: reads are `read`, changes `operate`, the mesh's own doors
/// `admin`; only the bootstrap is open, and anything unforeseen needs `admin`.
struct APIAccessTests {
    @Test func everyRouteNeedsTheRoleItsEffectCalls() {
        func role(_ m: HTTPRequest.Method, _ path: String) -> TokenRole? { APIAccess.requiredRole(method: m, path: path) }
        for path in ["/v1/members", "/v1/status", "/v1/instances", "/v1/logs/web.0", "/v1/stats", "/v1/events", "/v1/vars/x", "/metrics", "/v1/rtt"] {
            #expect(role(.get, path) == .read, "\\(path)")
        }
        for (m, path) in [(HTTPRequest.Method.put, "/v1/vars/x"), (.delete, "/v1/vars/x"), (.post, "/v1/events"),
                          (.post, "/v1/local/instances"), (.delete, "/v1/local/instances/web.0")] {
            #expect(role(m, path) == .operate, "\\(m) \\(path)")
        }
        for (m, path) in [(HTTPRequest.Method.get, "/v1/tokens"), (.post, "/v1/tokens"), (.delete, "/v1/tokens/ci"),
                          (.get, "/v1/keys"), (.post, "/v1/keys/install"), (.post, "/v1/join"), (.post, "/v1/leave"),
                          (.post, "/v1/raft/recover"), (.options, "/v1/members")] {
            #expect(role(m, path) == .admin, "\\(m) \\(path)")
        }
        #expect(role(.post, "/v1/tokens/bootstrap") == nil)
        #expect(role(.get, "/") == nil && role(.post, "/") == .operate)
    }
}
