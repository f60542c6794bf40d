/// Lifeguard's local health multiplier (Lifeguard §IV-B, memberlist `awareness.go`).
///
/// A score in `0 ... maxScore`: it rises when this node's own probes fail without the
/// nacks that would show its network works, or when it is suspected; it falls with each
/// successful probe. Probe intervals and timeouts are stretched by `score + 1`, so a slow
/// or overloaded node stops accusing healthy peers.
struct LocalHealth: Sendable {
    let maxScore: Int
    private(set) var score = 0

    init(maxScore: Int) { self.maxScore = maxScore }

    mutating func apply(_ delta: Int) {
        score = min(max(score + delta, 0), maxScore)
    }

    var multiplier: Double { Double(score + 1) }
}
