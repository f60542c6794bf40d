import Foundation
import MeshAPI
import MeshClient
import Testing

extension ClusterE2ETests {
    /// The API's refusals on a real agent, each counted in `meshd_api_refused_total`: names
    /// that no log, workload or variable can have (traversal, absolute paths, NUL) are 400
    /// and touch no file; a body past the limit is 413 naming it; connections that send
    /// their request byte by byte (slow loris) are closed after the idle timeout while the
    /// agent keeps answering others. (Tokens by role: `Access`.)
    @Suite struct APIRefusals {
        /// `AgentLimits.apiIdleTimeout` (this target does not link the agent).
        static let apiIdleTimeout: Duration = .seconds(10)
        /// `AgentLimits.maxRequestBodyBytes`.
        static let maxRequestBodyBytes = 64 * 1024

        /// `curl` against the agent with the path sent as written; returns (status, body).
        static func curl(_ addr: String, _ method: String, _ path: String, body: String? = nil) throws -> (Int, String) {
            var args = ["-sS", "--path-as-is", "-X", method, "-o", "/dev/stdout", "-w", "\n%{http_code}"]
            if let body { args += ["-H", "Content-Type: application/json", "--data-binary", body] }
            let out = try run("/usr/bin/curl", args + ["http://\(addr)\(path)"])
            let lines = out.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            return (Int(lines.last ?? "") ?? -1, lines.dropLast().joined(separator: "\n"))
        }

        @Test func namesThatCannotExistAre400CountedAndTouchNoFile() async throws {
            let cluster = try await MeshCluster(count: 1)
            defer { cluster.shutdown() }
            let addr = try #require(cluster.agents[0].apiAddress)
            let parent = (cluster.agents[0].dataDir as NSString).deletingLastPathComponent
            let before = try FileManager.default.contentsOfDirectory(atPath: parent).sorted()
            let counted: [(String, String, String?)] = [
                ("GET", "/v1/logs/..%2F..%2F..%2Fetc%2Fpasswd", nil),
                ("GET", "/v1/logs/%2Fetc%2Fpasswd", nil),
                ("GET", "/v1/logs/web%00.0", nil),
                ("GET", "/v1/vars/..%2Fescape", nil),
                ("PUT", "/v1/vars/..%2F..%2Fescape", #"{"value":"x"}"#),
                ("PUT", "/v1/vars/%2Fetc%2Fescape", #"{"value":"x"}"#),
                ("PUT", "/v1/vars/app%2F..%2Fescape", #"{"value":"x"}"#),
                ("DELETE", "/v1/vars/a%00b", nil),
                ("GET", "/v1/workloads/..%2Fescape", nil),
                ("POST", "/v1/workloads/%2Fetc%2Fescape/stop", nil),
                ("DELETE", "/v1/workloads/..", nil),
                ("DELETE", "/v1/local/instances/..%2F..%2Fescape", nil),
            ]
            var seen: [String] = []
            for (method, path, body) in counted {
                let (status, text) = try Self.curl(addr, method, path, body: body)
                seen.append("\(method) \(path) -> \(status) \(text)")
                #expect(status == 400 && text.contains(#""error":"bad_name""#), "\(method) \(path): \(status) \(text)")
            }
            // A start request naming its instance with a path is a bad request too.
            let (status, text) = try Self.curl(addr, "POST", "/v1/local/instances",
                                               body: #"{"name":"../../escape","instance":"0","command":"/bin/true"}"#)
            #expect(status == 400, "\(text)")
            let after = try FileManager.default.contentsOfDirectory(atPath: parent).sorted()
            #expect(before == after, "files appeared beside the data directory: \(Set(after).subtracting(before))")
            #expect(!FileManager.default.fileExists(atPath: "/etc/escape"))
            let metrics = try await cluster.metrics(0)
            #expect(MeshCluster.sample(metrics, #"meshd_api_refused_total{reason="bad_name"}"#) == Double(counted.count),
                    "\(seen.joined(separator: "\n"))")
            // The names the API accepts still work, percent-decoded as meshctl escapes them.
            let (ok, okText) = try Self.curl(addr, "PUT", "/v1/vars/app%2Fdb", body: #"{"value":"x"}"#)
            #expect(ok == 200, "\(okText)")
            let (listed, list) = try Self.curl(addr, "GET", "/v1/vars?prefix=app/")
            #expect(listed == 200 && list.contains(#""key":"app/db""#), "\(list)")
        }

        @Test func aBodyPastTheLimitIs413NamingTheLimitAndCounted() async throws {
            let cluster = try await MeshCluster(count: 1)
            defer { cluster.shutdown() }
            let addr = try #require(cluster.agents[0].apiAddress)
            let big = #"{"value":""# + String(repeating: "x", count: Self.maxRequestBodyBytes) + #""}"#
            for path in ["/v1/vars/k", "/v1/events"] {
                let (status, text) = try Self.curl(addr, path == "/v1/events" ? "POST" : "PUT", path, body: big)
                #expect(status == 413 && text.contains("body_too_large") && text.contains("\(Self.maxRequestBodyBytes) bytes"), "\(path): \(status) \(text)")
            }
            let metrics = try await cluster.metrics(0)
            #expect(MeshCluster.sample(metrics, #"meshd_api_refused_total{reason="body_too_large"}"#) == 2)
        }

        /// Connections held open by trickling one byte of the request head at a time.
        static let slowConnections = 200

        @Test func slowLorisConnectionsAreClosedAfterTheIdleTimeoutWhileOthersAreServed() async throws {
            let cluster = try await MeshCluster(count: 1)
            defer { cluster.shutdown() }
            let addr = try #require(cluster.agents[0].apiAddress)
            let port = try #require(addr.split(separator: ":").last.flatMap { Int($0) })
            var open: [Int32] = []
            defer { for fd in open { close(fd) } }
            for _ in 0 ..< Self.slowConnections {
                let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                var sa = UDPFlood.loopback(port: port)
                let ok = withUnsafePointer(to: &sa) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
                try #require(ok == 0, "connect: errno \(errno)")
                open.append(fd)
            }
            let head = Array("GET /v1/status HTTP/1.1\r\nHost: meshd\r\nX-Slow: ".utf8)
            var sent = [Int32: Int]()
            var closed = Set<Int32>()
            var served = 0
            let deadline = ContinuousClock.now + Self.apiIdleTimeout + .seconds(20)
            while closed.count < open.count, ContinuousClock.now < deadline {
                for fd in open where !closed.contains(fd) {
                    // One more byte of a head that never ends (past the request line it is a
                    // header value that keeps growing).
                    var byte = head[min(sent[fd, default: 0], head.count - 1)]
                    if Foundation.send(fd, &byte, 1, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) == 1 { sent[fd, default: 0] += 1 }
                    var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                    var scratch = [UInt8](repeating: 0, count: 512)
                    if poll(&pfd, 1, 0) == 1, recv(fd, &scratch, scratch.count, Int32(MSG_DONTWAIT)) <= 0 { closed.insert(fd) }
                }
                // Meanwhile another client is served.
                let status = try await cluster.client(0).get("/v1/status")
                #expect(!status.isEmpty)
                served += 1
                try await Task.sleep(for: .milliseconds(500))
            }
            #expect(closed.count == open.count,
                    "\(open.count - closed.count) of \(open.count) slow connections still open \(Self.apiIdleTimeout + .seconds(20)) after they opened")
            #expect(served > 0)
            // A well-behaved client is served after the flood too.
            _ = try await cluster.client(0).get("/v1/members")
        }
    }
}
