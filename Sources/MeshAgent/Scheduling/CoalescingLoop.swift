import Synchronization

/// Runs a pass every `interval` and whenever nudged, never two at once: nudges that come
/// during a pass are coalesced into one more pass. The scheduler's planning and every
/// node's reconciliation are level-triggered, so a pass only needs to happen soon after a
/// change, not once per change.
final class CoalescingLoop: Sendable {
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation
    private let task = Mutex<Task<Void, Never>?>(nil)

    init() { (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1)) }

    func nudge() { wake.yield() }

    func start(every interval: Duration, _ pass: @escaping @Sendable () async -> Void) {
        let wake = self.wake, wakeups = self.wakeups
        let loop = Task {
            let ticker = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    wake.yield()
                }
            }
            for await _ in wakeups {
                if Task.isCancelled { break }
                await pass()
            }
            ticker.cancel()
        }
        task.withLock { $0 = loop }
    }

    func stop() {
        task.withLock { $0?.cancel() }
        wake.finish()
    }
}
