/// Callbacks that wait, on their actor, for a condition of its state: each is called once,
/// with `true` when the actor finds the condition holding (`wakeAll`) or `false` at its
/// deadline (`expire`). What replaces a polling loop: nothing runs while nothing changes.
struct ActorWaiters {
    private var pending: [UInt64: (Bool) -> Void] = [:]
    private var nextID: UInt64 = 1

    var count: Int { pending.count }

    /// Adds a waiter; returns the id `expire` takes.
    mutating func add(_ then: @escaping (Bool) -> Void) -> UInt64 {
        let id = nextID
        nextID += 1
        pending[id] = then
        return id
    }

    /// Calls the waiter with `false`, unless it was called already.
    mutating func expire(_ id: UInt64) { pending.removeValue(forKey: id)?(false) }

    /// Calls every waiter with `true`, in the order they were added.
    mutating func wakeAll() {
        guard !pending.isEmpty else { return }
        let woken = pending.sorted { $0.key < $1.key }
        pending = [:]
        for (_, then) in woken { then(true) }
    }
}
