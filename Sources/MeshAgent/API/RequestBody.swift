import Foundation

/// How every route reads its JSON request body once Hummingbird has collected it (at most
/// `AgentLimits.maxRequestBodyBytes`): Foundation's `JSONDecoder`, nothing else. Kept apart
/// from the routes (Foundation only) so the libFuzzer target `fuzz/APIBodyFuzz.swift` and
/// the seeded in-suite run feed it exactly what a route would.
enum RequestBody {
    /// Decodes `bytes` as a `T`; nil for an empty body when `emptyAllowed`.
    static func decode<T: Decodable>(_ type: T.Type, from bytes: Data, emptyAllowed: Bool) throws(RequestBodyError) -> T? {
        guard bytes.count <= AgentLimits.maxRequestBodyBytes else {
            throw .tooLarge(size: bytes.count, limit: AgentLimits.maxRequestBodyBytes)
        }
        if emptyAllowed, bytes.isEmpty { return nil }
        do { return try JSONDecoder().decode(T.self, from: bytes) } catch {
            throw .notJSON(type: "\(T.self)", detail: "\(error)")
        }
    }
}

/// Why a request body was refused (HTTP 413 and 400).
enum RequestBodyError: Error, Equatable, CustomStringConvertible {
    case tooLarge(size: Int, limit: Int)
    case notJSON(type: String, detail: String)

    var description: String {
        switch self {
        case let .tooLarge(size, limit): "a body of \(size) bytes; request bodies are limited to \(limit) bytes"
        case let .notJSON(type, detail): "the body is not a valid \(type) JSON object: \(detail)"
        }
    }
}
