// libFuzzer entry point for the event log's decoder (`ReplicationMessage`, and `Event` within
// pushes and batches): the first byte picks the message kind, the rest is the body, as a
// verified frame hands them to `EventLogService`. Every input must come back as a message or
// a typed WireError, never a crash; a message that decodes must encode to bytes that decode to
// the same message, of the size `encodedSize` adds up. Built and run by `fuzz/run.sh event`.
import EventLog
import MeshCore
import MeshWire

let kinds = ReplicationMessage.kinds

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let kind = kinds[Int(data[0]) % kinds.count]
    let body = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let message: ReplicationMessage
    do { message = try ReplicationMessage.decode(kind: kind, body: body) } catch { _ = error.reason; return 0 }
    let encoded = message.encoded
    precondition(encoded.count == message.encodedSize, "encodedSize \(message.encodedSize) != \(encoded.count)")
    precondition((try? ReplicationMessage.decode(kind: kind, body: encoded)) == message, "round trip changed \(message)")
    switch message {
    case let .push(events), let .batch(events, _):
        for e in events { do { try e.verify() } catch { _ = error.description } }
    default: break
    }
    return 0
}
