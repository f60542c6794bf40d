import Foundation
import MeshCore

/// Vivaldi network coordinates (Dabek et al., "Vivaldi: A Decentralized Network Coordinate
/// System", SIGCOMM 2004) with the height vector, error weighting, adjustment term and
/// gravity that Serf's `coordinate` package adds. Distances are seconds.
struct Vivaldi: Sendable {
    /// Tuning, as Serf's `DefaultConfig`.
    static let errorWeight = 0.25          // ce
    static let coordinateWeight = 0.25     // cc
    static let maxError = 1.5
    static let minHeight = 10e-6
    static let adjustmentWindow = 20
    static let gravityRho = 150.0
    static let latencyFilterSamples = 3
    static let maxTrackedPeers = 4096

    private(set) var coordinate = Coordinate()
    private var adjustmentSamples = [Double](repeating: 0, count: Vivaldi.adjustmentWindow)
    private var adjustmentIndex = 0
    private var latencySamples: [NodeID: [Double]] = [:]

    /// Moves this node's coordinate after measuring `rtt` to a peer at `other`.
    mutating func observe(peer: NodeID, coordinate other: Coordinate, rtt: Duration) {
        var rttSeconds = max(rtt.seconds, 1e-6)
        guard rttSeconds.isFinite, rttSeconds < 10, other.vector.count == Coordinate.dimensions,
              other.vector.allSatisfy(\.isFinite) else { return }
        // Median of the last few samples filters out one-off delays.
        var samples = latencySamples[peer] ?? []
        if samples.isEmpty && latencySamples.count >= Self.maxTrackedPeers { latencySamples.removeAll(keepingCapacity: true) }
        samples.append(rttSeconds)
        if samples.count > Self.latencyFilterSamples { samples.removeFirst() }
        latencySamples[peer] = samples
        rttSeconds = samples.sorted()[samples.count / 2]

        var c = coordinate
        let dist = Self.rawDistance(c, other)
        let wrongness = abs(dist - rttSeconds) / rttSeconds
        let totalError = max(c.error + other.error, 1e-6)
        let weight = c.error / totalError
        c.error = min(Self.errorWeight * weight * wrongness + c.error * (1 - Self.errorWeight * weight), Self.maxError)
        let force = Self.coordinateWeight * weight * (rttSeconds - dist)
        c = Self.applyForce(c, force: force, from: other)

        // Adjustment term: the mean error of recent samples, added to distance estimates.
        adjustmentSamples[adjustmentIndex] = rttSeconds - Self.rawDistance(c, other)
        adjustmentIndex = (adjustmentIndex + 1) % Self.adjustmentWindow
        c.adjustment = adjustmentSamples.reduce(0, +) / (2 * Double(Self.adjustmentWindow))

        // Gravity keeps the coordinate system from drifting away from the origin.
        let origin = Coordinate(vector: [Double](repeating: 0, count: Coordinate.dimensions), height: Self.minHeight, error: 0)
        let fromOrigin = Self.rawDistance(c, origin)
        c = Self.applyForce(c, force: -1 * pow(fromOrigin / Self.gravityRho, 2), from: origin)
        if c.vector.allSatisfy(\.isFinite), c.height.isFinite { coordinate = c }
    }

    /// The estimated round trip between two coordinates.
    /// Drops a reaped member's latency filter.
    mutating func forget(_ peer: NodeID) { latencySamples.removeValue(forKey: peer) }

    static func distance(_ a: Coordinate, _ b: Coordinate) -> Duration {
        var d = rawDistance(a, b)
        let adjusted = d + a.adjustment + b.adjustment
        if adjusted > 0 { d = adjusted }
        return .nanoseconds(Int64(d * 1e9))
    }

    static func rawDistance(_ a: Coordinate, _ b: Coordinate) -> Double {
        var sum = 0.0
        for i in 0 ..< Coordinate.dimensions { let d = a.vector[i] - b.vector[i]; sum += d * d }
        return sum.squareRoot() + a.height + b.height
    }

    private static func applyForce(_ c: Coordinate, force: Double, from other: Coordinate) -> Coordinate {
        var unit = [Double](repeating: 0, count: Coordinate.dimensions)
        var mag = 0.0
        for i in 0 ..< Coordinate.dimensions { unit[i] = c.vector[i] - other.vector[i]; mag += unit[i] * unit[i] }
        mag = mag.squareRoot()
        var out = c
        if mag > 1e-9 {
            for i in 0 ..< Coordinate.dimensions { out.vector[i] += unit[i] / mag * force }
            out.height = max((c.height + other.height) * force / mag + c.height, minHeight)
        } else {
            // Same spot: push in a deterministic direction so coincident nodes separate.
            out.vector[0] += force
            out.height = max(c.height, minHeight)
        }
        return out
    }
}
