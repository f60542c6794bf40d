// libFuzzer entry point for the Raft message decoder (`RaftMessage`, `RaftCodec.swift`) and
// what a follower decodes from it: each entry's control command, a snapshot's configuration
// and control state. The first byte picks the message kind, the rest is the body. Every input
// must come back decoded or as a typed WireError, never a crash; a message that decodes must
// encode to bytes that decode to the same message. Built and run by `fuzz/run.sh raft`.
import Consensus
import MeshCore
import MeshWire

let kinds = RaftMessage.kinds

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let kind = kinds[Int(data[0]) % kinds.count]
    let body = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let message: RaftMessage
    do { message = try RaftMessage.decode(kind: kind, body: body) } catch { _ = error.reason; return 0 }
    precondition((try? RaftMessage.decode(kind: kind, body: message.encoded)) == message, "round trip changed \(message)")
    switch message {
    case let .appendEntries(m):
        for e in m.entries where !e.command.isEmpty {
            if let c = try? ControlCommand.decode(e.command) {
                precondition((try? ControlCommand.decode(c.encoded)) == c, "command round trip changed \(c)")
            }
        }
    case let .installSnapshot(m):
        if let s = try? ControlState(snapshot: m.data) { _ = s.snapshot }
    default: break
    }
    return 0
}
