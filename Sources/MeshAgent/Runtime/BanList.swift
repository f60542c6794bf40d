import MeshCore
import Synchronization

/// The nodes every frame check refuses: the control state's bans (`meshctl members ban`),
/// handed from the consensus service's thread, which applies them, to the runtime's, which
/// opens every frame. A banned node's frames are dropped after their signature is checked
/// (so a ban names a key, not an address) and counted as `banned`.
final class BanList: Sendable {
    private let ids = Mutex<Set<NodeID>>([])

    func contains(_ id: NodeID) -> Bool { ids.withLock { $0.contains(id) } }

    /// Replaces the set; true when it changed.
    @discardableResult
    func set(_ new: Set<NodeID>) -> Bool {
        ids.withLock { current in
            guard current != new else { return false }
            current = new
            return true
        }
    }

    var count: Int { ids.withLock { $0.count } }
}
