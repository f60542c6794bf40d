import MeshCore

/// Refuses frames already seen, per sender.
///
/// A sender numbers its frames with (epoch, seq): the epoch changes on every start (the
/// agent takes it from the wall clock, the simulator from a restart counter) and seq
/// counts up within an epoch. For each sender the filter keeps the newest epoch, the
/// highest seq, and a bitmap of the `WireLimits.replayWindowFrames` seqs below it, so
/// reordered frames inside the window are accepted once and anything older is refused.
/// At most `WireLimits.maxReplayTrackedSenders` senders are tracked; the least recently
/// heard is forgotten first.
public struct ReplayFilter: Sendable {
    struct Window: Sendable {
        var epoch: UInt64
        var highest: UInt64
        var seen: UInt64      // bit i set: highest - i was accepted
        var lastUse: UInt64
    }

    private var windows: [NodeID: Window] = [:]
    private var tick: UInt64 = 0
    public let capacity: Int

    public init(capacity: Int = WireLimits.maxReplayTrackedSenders) { self.capacity = capacity }

    public var trackedSenders: Int { windows.count }

    /// Accepts (and records) the frame, or returns false when it is a replay.
    public mutating func accept(sender: NodeID, epoch: UInt64, seq: UInt64) -> Bool {
        tick &+= 1
        guard var w = windows[sender] else {
            if windows.count >= capacity { evictLeastRecentlyUsed() }
            windows[sender] = Window(epoch: epoch, highest: seq, seen: 1, lastUse: tick)
            return true
        }
        defer { windows[sender] = w }
        w.lastUse = tick
        if epoch < w.epoch { return false }
        if epoch > w.epoch {
            w = Window(epoch: epoch, highest: seq, seen: 1, lastUse: tick)
            return true
        }
        if seq > w.highest {
            let shift = seq - w.highest
            w.seen = shift >= 64 ? 1 : (w.seen << shift) | 1
            w.highest = seq
            return true
        }
        let age = w.highest - seq
        guard age < WireLimits.replayWindowFrames else { return false }
        let bit: UInt64 = 1 << age
        if w.seen & bit != 0 { return false }
        w.seen |= bit
        return true
    }

    /// Whether `accept` would take this frame, without recording anything. The opener asks
    /// this before the (costly) signature check, so a flood of replayed frames costs a
    /// decryption each, not a signature verification.
    public func wouldAccept(sender: NodeID, epoch: UInt64, seq: UInt64) -> Bool {
        guard let w = windows[sender] else { return true }
        if epoch != w.epoch { return epoch > w.epoch }
        if seq > w.highest { return true }
        let age = w.highest - seq
        return age < WireLimits.replayWindowFrames && w.seen & (1 << age) == 0
    }

    private mutating func evictLeastRecentlyUsed() {
        if let oldest = windows.min(by: { $0.value.lastUse < $1.value.lastUse })?.key {
            windows.removeValue(forKey: oldest)
        }
    }
}
