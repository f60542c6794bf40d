import MeshWire

/// Messages and bytes the nodes sent during the measured period (after the warm-up), by
/// message kind. Bytes are whole frames: the encoded body plus
/// `WireLimits.frameOverheadBytes` (sealing and signature), as the agent would send them.
struct LoadCounters {
    var messages = 0
    var bytes = 0
    var messagesByKind = [Int](repeating: 0, count: 256)
    var bytesByKind = [Int](repeating: 0, count: 256)

    @inline(__always)
    mutating func count(_ kind: MessageKind, bytes frameBytes: Int) {
        messages += 1
        bytes += frameBytes
        messagesByKind[Int(kind.rawValue)] += 1
        bytesByKind[Int(kind.rawValue)] += frameBytes
    }
}
