import MeshCore
import NIOCore
import NIOPosix

/// A thread of its own for an actor whose work blocks on fsync (SQLite commits), so it
/// never stalls the cooperative pool the membership runtime needs for its probes. The
/// actor's executor is the thread's event loop (`unownedExecutor`), so work handed over
/// with `onOwnThread` runs isolated to the actor, in the order it was handed over, and
/// costs no task.
struct DedicatedThread: Sendable {
    let loop: any EventLoop

    init() { loop = MultiThreadedEventLoopGroup(numberOfThreads: 1).next() }

    var executor: UnownedSerialExecutor { loop.executor.asUnownedSerialExecutor() }
}

/// An actor that runs on a `DedicatedThread`.
protocol ThreadPinnedActor: Actor {
    nonisolated var thread: DedicatedThread { get }
}

extension ThreadPinnedActor {
    /// Runs `body` on this actor's thread, after what was handed to it before.
    nonisolated func onOwnThread(_ body: @escaping @Sendable (isolated Self) -> Void) {
        thread.loop.execute {
            // The loop is this actor's executor.
            self.assumeIsolated(body)
        }
    }

    /// Runs `body` on this actor's thread after `delay`, unless the actor is gone by then.
    nonisolated func onOwnThread(after delay: Duration, _ body: @escaping @Sendable (isolated Self) -> Void) {
        thread.loop.scheduleTask(in: .nanoseconds(delay.nanoseconds)) { [weak self] in
            self?.assumeIsolated(body)
        }
    }
}
