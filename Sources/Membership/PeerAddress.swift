import MeshWire

/// A member's network address: an IPv4 (4 bytes) or IPv6 (16 bytes) address and a port.
/// Cores handle addresses as values; the agent maps them to sockets, the simulator to
/// virtual hosts.
public struct PeerAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let ip: [UInt8]
    public let port: UInt16

    public init?(ip: [UInt8], port: UInt16) {
        guard ip.count == 4 || ip.count == 16 else { return nil }
        self.ip = ip; self.port = port
    }

    /// An IPv4 address `a.b.c.d:port`.
    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8, port: UInt16) {
        ip = [a, b, c, d]; self.port = port
    }

    /// Parses `a.b.c.d:port` or `[v6]:port` with a literal address (no DNS).
    public init?(parsing text: String) {
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":"), let port = UInt16(rest.dropFirst()),
                  let ip = Self.parseIPv6(String(text[text.index(after: text.startIndex) ..< close])) else { return nil }
            self.init(ip: ip, port: port)
        } else {
            let parts = text.split(separator: ":")
            guard parts.count == 2, let port = UInt16(parts[1]) else { return nil }
            let octets = parts[0].split(separator: ".", omittingEmptySubsequences: false).compactMap { UInt8($0) }
            guard octets.count == 4 else { return nil }
            self.init(ip: octets, port: port)
        }
    }

    public var isIPv6: Bool { ip.count == 16 }

    /// The address without the port, as text.
    public var host: String {
        if ip.count == 4 { return ip.map(String.init).joined(separator: ".") }
        var groups: [String] = []
        for i in stride(from: 0, to: 16, by: 2) { groups.append(String(UInt16(ip[i]) << 8 | UInt16(ip[i + 1]), radix: 16)) }
        return groups.joined(separator: ":")
    }

    public var description: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    public static func < (a: PeerAddress, b: PeerAddress) -> Bool {
        a.ip.lexicographicallyPrecedes(b.ip) || (a.ip == b.ip && a.port < b.port)
    }

    static func parseIPv6(_ s: String) -> [UInt8]? {
        let halves = s.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ part: String) -> [UInt16]? {
            part.isEmpty ? [] : part.split(separator: ":", omittingEmptySubsequences: false).map { UInt16($0, radix: 16) }
                .reduce(into: [UInt16]?([])) { acc, g in if let g, acc != nil { acc!.append(g) } else { acc = nil } }
        }
        guard let head = groups(halves[0]) else { return nil }
        var all = head
        if halves.count == 2 {
            guard let tail = groups(halves[1]), head.count + tail.count < 8 else { return nil }
            all += [UInt16](repeating: 0, count: 8 - head.count - tail.count) + tail
        }
        guard all.count == 8 else { return nil }
        return all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }
    }

    func encode(into w: inout ByteWriter) {
        w.write(UInt8(ip.count)); w.writeRaw(ip); w.write(port)
    }

    init(decoding r: inout ByteReader) throws(WireError) {
        let n = Int(try r.readUInt8())
        guard n == 4 || n == 16 else { throw .malformed("address length \(n)") }
        ip = Array(try r.readRaw(n)); port = try r.readUInt16()
    }
}

extension String {
    func components(separatedBy separator: String) -> [String] {
        var out: [String] = []
        var rest = Substring(self)
        while let r = rest.firstRange(of: separator) {
            out.append(String(rest[..<r.lowerBound])); rest = rest[r.upperBound...]
        }
        out.append(String(rest))
        return out
    }
}
