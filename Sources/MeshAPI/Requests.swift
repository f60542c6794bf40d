/// `POST /v1/join` body: peers to contact, `HOST:PORT` each (host names are resolved).
public struct JoinRequest: Codable, Sendable, Equatable {
    public var addresses: [String]
    public init(addresses: [String]) { self.addresses = addresses }
}

/// `POST /v1/join` answer: the resolved addresses the agent now contacts. Joining goes on
/// in the background (with retries); `meshctl members` shows when peers answered.
public struct JoinResponse: Codable, Sendable, Equatable {
    public var contacting: [String]
    public init(contacting: [String]) { self.contacting = contacting }
}

/// `POST /v1/leave` answer.
public struct LeaveResponse: Codable, Sendable, Equatable {
    /// `left` when the leave was disseminated in time, `timeout` when the bound ran out first.
    public var result: String
    public var seconds: Double
    public init(result: String, seconds: Double) { self.result = result; self.seconds = seconds }
}

/// `POST /v1/keys/install|use|remove` body: a base64 cluster key (or, for `use` and
/// `remove`, the fingerprint of a key this agent holds).
public struct KeyRequest: Codable, Sendable, Equatable {
    public var key: String
    public init(key: String) { self.key = key }
}

/// `GET /v1/rtt?a=NAME&b=NAME` answer: the round trip estimated from network coordinates.
public struct RTTInfo: Codable, Sendable, Equatable {
    public var a: String
    public var b: String
    public var rttMs: Double

    public init(a: String, b: String, rttMs: Double) { self.a = a; self.b = b; self.rttMs = rttMs }

    enum CodingKeys: String, CodingKey { case a, b, rttMs = "rtt_ms" }
}

/// Every error the API answers: a short machine-readable `error` and a sentence for people.
public struct APIErrorBody: Codable, Sendable, Equatable, Error {
    public var error: String
    public var detail: String?
    public init(error: String, detail: String?) { self.error = error; self.detail = detail }
}
