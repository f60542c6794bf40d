/// `POST /v1/tokens`: a new token with this name and role (`read`, `operate`, `admin`).
public struct TokenCreateRequest: Codable, Sendable, Equatable {
    public var name: String
    public var role: String
    public init(name: String, role: String) { self.name = name; self.role = role }
}

/// `POST /v1/tokens/bootstrap`: the first admin token's name (default `bootstrap`).
public struct TokenBootstrapRequest: Codable, Sendable, Equatable {
    public var name: String?
    public init(name: String? = nil) { self.name = name }
}

/// A token just made: its secret is in this answer and nowhere else (the mesh keeps a hash).
public struct TokenCreated: Codable, Sendable, Equatable {
    public var name: String
    public var role: String
    public var secret: String
    /// The log index that committed it.
    public var index: UInt64
    public init(name: String, role: String, secret: String, index: UInt64) {
        self.name = name; self.role = role; self.secret = secret; self.index = index
    }
}

/// One token as `GET /v1/tokens` lists it: never its secret or hash.
public struct TokenInfo: Codable, Sendable, Equatable {
    public var name: String
    public var role: String
    /// The log index that created it.
    public var index: UInt64
    public init(name: String, role: String, index: UInt64) { self.name = name; self.role = role; self.index = index }
}
