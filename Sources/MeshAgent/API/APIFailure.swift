import EventLog
import Foundation
import Hummingbird
import MeshAPI

/// Every error the HTTP API answers, with its status code; the body is
/// `{"error": "...", "detail": "..."}` (docs/INTERFACES.md).
enum APIFailure: Error, Sendable {
    case badRequest(String)
    /// A name in the path that no log, workload or variable can have (`../x`, `/etc/passwd`,
    /// NUL): refused before anything is looked up, and counted.
    case badName(String)
    case bodyTooLarge(limit: Int)
    case unknownMember(String)
    case noCoordinate(String)
    case unknownKey(String)
    case refused(String)
    case leaving
    /// The agent's disk has no room for the write (507): the machine's condition, not the
    /// request's; the same request succeeds once space returns. Counted.
    case storageFull(String)
    /// The agent's disk failed the write (507, an I/O error). Counted.
    case storageIOError(String)
    case http(status: HTTPResponse.Status, detail: String?)
    case internalError(String)

    var status: HTTPResponse.Status {
        switch self {
        case .badRequest, .badName: .badRequest
        case .bodyTooLarge: .contentTooLarge
        case .unknownMember, .unknownKey: .notFound
        case .noCoordinate: .conflict
        case .refused, .leaving: .conflict
        case .storageFull, .storageIOError: .insufficientStorage
        case let .http(status, _): status
        case .internalError: .internalServerError
        }
    }

    var body: APIErrorBody {
        switch self {
        case let .badRequest(why): APIErrorBody(error: "bad_request", detail: why)
        case let .badName(why): APIErrorBody(error: "bad_name", detail: why)
        case let .bodyTooLarge(limit): APIErrorBody(error: "body_too_large", detail: "request bodies are limited to \(limit) bytes")
        case let .unknownMember(name): APIErrorBody(error: "unknown_member", detail: "no member named \(name) (try `meshctl members`)")
        case let .noCoordinate(name):
            APIErrorBody(error: "no_coordinate", detail: "\(name) has no network coordinate yet; it gets one after its first probes")
        case let .unknownKey(key):
            APIErrorBody(error: "unknown_key", detail: "\(key) is neither a base64 cluster key nor the fingerprint of a key this agent holds")
        case let .refused(why): APIErrorBody(error: "refused", detail: why)
        case .leaving: APIErrorBody(error: "leaving", detail: "this agent is leaving the mesh")
        case let .storageFull(why): APIErrorBody(error: "storage_full", detail: why)
        case let .storageIOError(why): APIErrorBody(error: "storage_io_error", detail: why)
        case let .http(status, detail): APIErrorBody(error: status.reasonPhrase.lowercased().replacingOccurrences(of: " ", with: "_"),
                                                     detail: detail)
        case let .internalError(why): APIErrorBody(error: "internal", detail: why)
        }
    }
}

extension APIFailure: HTTPResponseError {
    func response(from request: Request, context: some RequestContext) throws -> Response {
        JSONResponse.make(body, status: status)
    }
}

/// JSON responses with sorted keys, so the same state prints the same bytes.
enum JSONResponse {
    static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? JSONEncoder.api.encode(value)) ?? Data(#"{"error":"internal","detail":"cannot encode the response"}"#.utf8)
        var buffer = ByteBuffer()
        buffer.writeBytes(data)
        buffer.writeString("\n")
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: buffer))
    }
}

extension APIFailure {
    /// The refusal this failure is counted as in `meshd_api_refused_total`, if any.
    var refusal: APIAccess.Refusal? {
        switch self {
        case .badName: .badName
        case .bodyTooLarge: .bodyTooLarge
        case .storageFull: .storageFull
        case .storageIOError: .storageIOError
        default: nil
        }
    }

    /// The answer to a write the event log (or a store speaking `EventError`) refused: the
    /// request's fault (400), the disk's (507), a log still refilling (503, retry), or the
    /// agent's (500).
    init(_ error: EventError) {
        switch error {
        case .invalid, .tooLarge, .badSignature: self = .badRequest(error.description)
        case .storageFull: self = .storageFull(error.description)
        case .storageIOError: self = .storageIOError(error.description)
        case .notReady: self = .http(status: .serviceUnavailable, detail: error.description)
        case .storage: self = .internalError(error.description)
        }
    }
}

extension HTTPResponse.Status {
    /// 507 (RFC 4918 §11.5): the server cannot store what the request needs it to.
    static var insufficientStorage: Self { .init(code: 507, reasonPhrase: "Insufficient Storage") }
}

/// Turns every error a route or the router throws (no such route, a body too large...)
/// into the API's JSON error shape, and counts the refusals among them.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    var refusals: APIRefusals?

    func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let failure as APIFailure {
            if let refusal = failure.refusal { refusals?.count(refusal) }
            return JSONResponse.make(failure.body, status: failure.status)
        } catch let error as HTTPError {
            let detail = error.body ?? (error.status == .notFound ? "no route \(request.method) \(request.uri.path)" : nil)
            let failure = APIFailure.http(status: error.status, detail: detail)
            return JSONResponse.make(failure.body, status: failure.status)
        } catch let error as any HTTPResponseError {
            let failure = APIFailure.http(status: error.status, detail: "\(error)")
            return JSONResponse.make(failure.body, status: failure.status)
        } catch {
            let failure = APIFailure.internalError("\(error)")
            return JSONResponse.make(failure.body, status: failure.status)
        }
    }
}

extension JSONEncoder {
    /// The API's JSON: sorted keys, slashes as they are; for whole answers and for bodies
    /// streamed one object per line (`GET /v1/events?follow=1`).
    static var api: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
