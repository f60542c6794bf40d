// libFuzzer entry point for the API's JSON request bodies: the first byte picks the body type
// a route decodes, the rest is the body, read by `RequestBody.decode` as every route reads
// it. It must give the value or a RequestBodyError, never a crash; a value that decodes must
// encode to JSON that decodes to the same value. Compiled in one module with
// `RequestBody.swift` and `AgentLimits.swift`; built and run by `fuzz/run.sh api`.
import Foundation
import MeshAPI

func check<T: Codable & Equatable>(_ type: T.Type, _ body: Data, emptyAllowed: Bool = false) {
    let value: T?
    do throws(RequestBodyError) { value = try RequestBody.decode(T.self, from: body, emptyAllowed: emptyAllowed) } catch {
        _ = error.description
        return
    }
    guard let value else { precondition(emptyAllowed && body.isEmpty, "nil for a non-empty body"); return }
    guard let again = try? JSONEncoder().encode(value) else { preconditionFailure("cannot encode \(value)") }
    precondition((try? JSONDecoder().decode(T.self, from: again)) == value, "round trip changed \(value)")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let body = Data(bytes: data + 1, count: size - 1)
    switch data[0] % 10 {
    case 0: check(JoinRequest.self, body)
    case 1: check(KeyRequest.self, body)
    case 2: check(EventSendRequest.self, body)
    case 3: check(VarSetRequest.self, body)
    case 4: check(RaftRecoverRequest.self, body)
    case 5: check(InstanceStartRequest.self, body)
    case 6: check(TokenCreateRequest.self, body)
    case 7: check(TokenBootstrapRequest.self, body, emptyAllowed: true)
    case 8: check(WorkloadSubmitRequest.self, body)
    default: check(WorkloadScaleRequest.self, body)
    }
    return 0
}
