// libFuzzer entry point for the frame decoder: every input must come back as a frame or a
// typed WireError, never a crash. Built and run by fuzz/run.sh.
import MeshCore
import MeshWire

nonisolated(unsafe) let keyring = Keyring(primary: ClusterKey(bytes: [UInt8](repeating: 7, count: 32))!)
nonisolated(unsafe) var opener = FrameOpener(replayCapacity: 1024)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    for channel in [FrameChannel.datagram, .stream] {
        _ = try? opener.open(bytes, keyring: keyring, channel: channel)
    }
    var reader = ByteReader(bytes)
    _ = try? reader.readList(limit: 1000) { (r: inout ByteReader) throws(WireError) in try r.readString(limit: 64) }
    return 0
}
