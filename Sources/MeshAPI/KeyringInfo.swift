/// A member's answer to a keyring change or query.
public struct MemberKeyResult: Codable, Sendable, Equatable {
    public var name: String
    public var id: String
    /// `ok`, `error` or `timeout`.
    public var result: String
    /// The member's reason when `result` is `error`.
    public var error: String?
    /// The fingerprints of the keys the member holds afterwards, its primary first.
    public var keys: [String]?

    public init(name: String, id: String, result: String, error: String?, keys: [String]?) {
        self.name = name; self.id = id; self.result = result; self.error = error; self.keys = keys
    }
}

/// The answer of `POST /v1/keys/install|use|remove`: what each live member said.
public struct KeyOperationResult: Codable, Sendable, Equatable {
    /// `install`, `use` or `remove`.
    public var operation: String
    public var key: String
    public var members: [MemberKeyResult]

    public init(operation: String, key: String, members: [MemberKeyResult]) {
        self.operation = operation; self.key = key; self.members = members
    }

    /// Whether every member took the change.
    public var allOK: Bool { members.allSatisfy { $0.result == "ok" } }
}

/// One key of `GET /v1/keys`: how many members hold it and how many seal with it.
public struct KeyUsage: Codable, Sendable, Equatable {
    public var fingerprint: String
    public var installed: Int
    public var primary: Int
    public init(fingerprint: String, installed: Int, primary: Int) {
        self.fingerprint = fingerprint; self.installed = installed; self.primary = primary
    }
}

/// `GET /v1/keys`: the keys held across the live members, and each member's answer.
public struct KeyringInfo: Codable, Sendable, Equatable {
    /// The fingerprints this agent holds, its primary first.
    public var local: [String]
    public var keys: [KeyUsage]
    /// Members asked.
    public var total: Int
    public var members: [MemberKeyResult]

    public init(local: [String], keys: [KeyUsage], total: Int, members: [MemberKeyResult]) {
        self.local = local; self.keys = keys; self.total = total; self.members = members
    }
}
