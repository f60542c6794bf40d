import MeshCore

/// Appends big-endian integers, length-prefixed bytes and strings to a buffer.
public struct ByteWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 256) {
        bytes = []; bytes.reserveCapacity(capacity)
    }

    public var count: Int { bytes.count }

    public mutating func write(_ v: UInt8) { bytes.append(v) }
    public mutating func write(_ v: Bool) { bytes.append(v ? 1 : 0) }
    public mutating func write(_ v: UInt16) { appendBigEndian(UInt64(v), width: 2) }
    public mutating func write(_ v: UInt32) { appendBigEndian(UInt64(v), width: 4) }
    public mutating func write(_ v: UInt64) { appendBigEndian(v, width: 8) }
    public mutating func write(_ v: Int64) { appendBigEndian(UInt64(bitPattern: v), width: 8) }
    public mutating func write(_ v: Double) { write(v.bitPattern) }
    /// An unsigned LEB128 varint: 7 bits a byte, low bits first (1 byte below 128, at most 10).
    public mutating func writeVarint(_ v: UInt64) {
        var v = v
        while v >= 0x80 { bytes.append(UInt8(truncatingIfNeeded: v) | 0x80); v >>= 7 }
        bytes.append(UInt8(v))
    }
    /// Bytes `writeVarint(v)` appends.
    public static func varintSize(_ v: UInt64) -> Int { v == 0 ? 1 : (64 - v.leadingZeroBitCount + 6) / 7 }

    /// Raw bytes with no length prefix (fixed-size fields such as keys).
    public mutating func writeRaw<C: Collection>(_ raw: C) where C.Element == UInt8 {
        bytes.append(contentsOf: raw)
    }

    /// Bytes prefixed with their length as a UInt32.
    public mutating func writeBlob<C: Collection>(_ blob: C) where C.Element == UInt8 {
        write(UInt32(blob.count)); bytes.append(contentsOf: blob)
    }

    public mutating func write(_ s: String) { writeBlob(Array(s.utf8)) }

    public mutating func write(_ id: NodeID) { write(id.w0); write(id.w1); write(id.w2); write(id.w3) }

    /// A list: its count as a UInt32, then each element.
    public mutating func writeList<T>(_ items: [T], _ each: (inout ByteWriter, T) -> Void) {
        write(UInt32(items.count))
        for item in items { each(&self, item) }
    }

    /// A string map in key order, so that equal maps encode to equal bytes (signatures).
    public mutating func write(_ map: [String: String]) {
        writeList(map.sorted { $0.key < $1.key }) { w, kv in w.write(kv.key); w.write(kv.value) }
    }

    private mutating func appendBigEndian(_ v: UInt64, width: Int) {
        for i in stride(from: width - 1, through: 0, by: -1) {
            bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(i * 8)))
        }
    }
}

/// Reads what `ByteWriter` wrote. Every read is bounds-checked and fails with a typed
/// `WireError`; lengths are checked against what remains before anything is allocated.
public struct ByteReader: Sendable {
    public let bytes: ArraySlice<UInt8>
    public private(set) var index: Int

    public init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes; self.index = bytes.startIndex }
    public init(_ bytes: [UInt8]) { self.init(bytes[...]) }

    public var remaining: Int { bytes.endIndex - index }
    public var isAtEnd: Bool { index == bytes.endIndex }

    private mutating func take(_ n: Int) throws(WireError) -> ArraySlice<UInt8> {
        guard n >= 0, remaining >= n else { throw .truncated(needed: n, available: remaining) }
        defer { index += n }
        return bytes[index ..< index + n]
    }

    private mutating func readBigEndian(width: Int) throws(WireError) -> UInt64 {
        var v: UInt64 = 0
        for b in try take(width) { v = v << 8 | UInt64(b) }
        return v
    }

    public mutating func readUInt8() throws(WireError) -> UInt8 { try take(1).first! }
    public mutating func readBool() throws(WireError) -> Bool {
        switch try readUInt8() {
        case 0: return false
        case 1: return true
        case let other: throw .malformed("boolean byte \(other)")
        }
    }
    public mutating func readUInt16() throws(WireError) -> UInt16 { UInt16(try readBigEndian(width: 2)) }
    public mutating func readUInt32() throws(WireError) -> UInt32 { UInt32(try readBigEndian(width: 4)) }
    public mutating func readUInt64() throws(WireError) -> UInt64 { try readBigEndian(width: 8) }
    /// An unsigned LEB128 varint (see `ByteWriter.writeVarint`); refuses more than 10 bytes,
    /// or a value past 64 bits.
    public mutating func readVarint() throws(WireError) -> UInt64 {
        var v: UInt64 = 0
        for shift in stride(from: UInt64(0), to: 70, by: 7) {
            let b = try take(1).first!
            let bits = UInt64(b & 0x7f)
            guard shift < 63 || bits <= 1 else { throw .malformed("varint past 64 bits") }
            v |= bits << shift
            if b & 0x80 == 0 { return v }
        }
        throw .malformed("varint longer than 10 bytes")
    }
    public mutating func readInt64() throws(WireError) -> Int64 { Int64(bitPattern: try readBigEndian(width: 8)) }
    public mutating func readDouble() throws(WireError) -> Double {
        let d = Double(bitPattern: try readUInt64())
        guard d.isFinite else { throw .malformed("non-finite number") }
        return d
    }

    public mutating func readRaw(_ n: Int) throws(WireError) -> ArraySlice<UInt8> { try take(n) }

    /// A length-prefixed blob of at most `limit` bytes.
    public mutating func readBlob(limit: Int = WireLimits.maxFieldBytes) throws(WireError) -> [UInt8] {
        let n = Int(try readUInt32())
        guard n <= limit else { throw .oversized(size: n, limit: limit) }
        return Array(try take(n))
    }

    public mutating func readString(limit: Int = WireLimits.maxFieldBytes) throws(WireError) -> String {
        let raw = try readBlob(limit: limit)
        guard let s = String(validating: raw, as: UTF8.self) else { throw .malformed("invalid UTF-8") }
        return s
    }

    public mutating func readNodeID() throws(WireError) -> NodeID {
        NodeID(w0: try readUInt64(), w1: try readUInt64(), w2: try readUInt64(), w3: try readUInt64())
    }

    /// A list of at most `limit` elements. The count is also checked against the bytes that
    /// remain (each element takes at least `minElementBytes`), so a forged count cannot make
    /// the reader reserve memory it will never fill.
    public mutating func readList<T>(limit: Int = WireLimits.maxListElements, minElementBytes: Int = 1,
                                     _ each: (inout ByteReader) throws(WireError) -> T) throws(WireError) -> [T] {
        let n = Int(try readUInt32())
        guard n <= limit else { throw .oversized(size: n, limit: limit) }
        guard n * max(1, minElementBytes) <= remaining else {
            throw .truncated(needed: n * max(1, minElementBytes), available: remaining)
        }
        var out = [T](); out.reserveCapacity(n)
        for _ in 0 ..< n { out.append(try each(&self)) }
        return out
    }

    public mutating func readStringMap(limit: Int) throws(WireError) -> [String: String] {
        let pairs = try readList(limit: limit, minElementBytes: 8) { (r: inout ByteReader) throws(WireError) in
            (try r.readString(), try r.readString())
        }
        var map = [String: String](minimumCapacity: pairs.count)
        for (k, v) in pairs {
            guard map.updateValue(v, forKey: k) == nil else { throw .malformed("duplicate key \(k)") }
        }
        return map
    }

    /// Fails unless every byte was consumed: trailing bytes mean a codec mismatch.
    public func expectEnd() throws(WireError) {
        guard isAtEnd else { throw .malformed("\(remaining) trailing bytes") }
    }
}
