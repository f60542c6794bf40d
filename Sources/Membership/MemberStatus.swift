import MeshCore
import MeshWire

/// A member's state as this node sees it (SWIM §4.2, plus `left` for a graceful leave).
public enum MemberStatus: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case alive = 0, suspect = 1, dead = 2, left = 3

    public var description: String {
        switch self {
        case .alive: "alive"
        case .suspect: "suspect"
        case .dead: "dead"
        case .left: "left"
        }
    }
}

/// A member's incarnation number: only the member itself raises it, to refute suspicion.
public struct Incarnation: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var value: UInt64
    public init(_ value: UInt64) { self.value = value }
    public static let zero = Incarnation(0)
    public static func < (a: Incarnation, b: Incarnation) -> Bool { a.value < b.value }
    public var next: Incarnation { Incarnation(value + 1) }
    public var description: String { "\(value)" }
}

/// What a member says about itself: tags, API address, resource summary. Bounded by
/// `MembershipSettings.maxMetadataBytes` (encoded); disseminated with its alive updates.
public struct MemberMetadata: Hashable, Sendable {
    public var tags: [String: String]
    /// The member's HTTP API address, `HOST:PORT`, empty when it serves none.
    public var apiAddress: String
    /// A short resource summary (free CPU, free memory), filled by the stats layer.
    public var resources: [String: String]

    public init(tags: [String: String] = [:], apiAddress: String = "", resources: [String: String] = [:]) {
        self.tags = tags; self.apiAddress = apiAddress; self.resources = resources
    }

    func encode(into w: inout ByteWriter) {
        w.write(tags); w.write(apiAddress); w.write(resources)
    }

    init(decoding r: inout ByteReader) throws(WireError) {
        tags = try r.readStringMap(limit: 64)
        apiAddress = try r.readString(limit: 256)
        resources = try r.readStringMap(limit: 32)
    }

    public var encodedSize: Int { var w = ByteWriter(); encode(into: &w); return w.count }
}

/// A Vivaldi network coordinate (Dabek et al., SIGCOMM 2004, with the height vector and
/// adjustment term Serf adds). Distances are in seconds.
public struct Coordinate: Hashable, Sendable {
    public static let dimensions = 8
    public var vector: [Double]
    public var height: Double
    public var error: Double
    public var adjustment: Double

    public init(vector: [Double] = [Double](repeating: 0, count: Coordinate.dimensions),
                height: Double = 10e-6, error: Double = 1.5, adjustment: Double = 0) {
        self.vector = vector; self.height = height; self.error = error; self.adjustment = adjustment
    }

    func encode(into w: inout ByteWriter) {
        for v in vector { w.write(v) }
        w.write(height); w.write(error); w.write(adjustment)
    }

    init(decoding r: inout ByteReader) throws(WireError) {
        var v: [Double] = []
        for _ in 0 ..< Coordinate.dimensions { v.append(try r.readDouble()) }
        vector = v
        height = try r.readDouble(); error = try r.readDouble(); adjustment = try r.readDouble()
    }

    static let encodedSize = (Coordinate.dimensions + 3) * 8
}
