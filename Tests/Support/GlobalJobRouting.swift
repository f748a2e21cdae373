import CTestHooks
import Patterns
import Synchronization

/// Sends the global-executor jobs enqueued on a `TestRun`'s virtual thread to that run's
/// executor. swift-async-algorithms' `debounce` consumes its upstream in a `Task {}` of its
/// own, which inherits no executor preference: without this, it would run on the global
/// pool while the run's executor jumps the clock past it. Enqueued on the run's thread means
/// started or woken by the run (a job of it, or the clock's jump), so every job of such a
/// task joins the run's FIFO queue, and the run stays one thread and one order.
///
/// Tests only, and only for the runs `TestRun` starts: virtual runs a test makes through the
/// service's own path (the registry) are left as the service runs them, which refuses
/// `clock: virtual` for the patterns that need this (their `virtualClockRefusal` says why).
enum GlobalJobRouting {
    /// The clocks of the `TestRun`s under way: only their executors take routed jobs.
    private static let routed = Mutex(Set<ObjectIdentifier>())

    /// Routes the jobs enqueued on the thread of the executor driving `clock` while `body`
    /// runs (the hook is installed once per process).
    static func routing<T>(_ clock: VirtualClock, _ body: () async throws -> T) async rethrows -> T {
        lab_install_global_enqueue_router { job in
            guard let executor = VirtualExecutor.onCurrentThread,
                GlobalJobRouting.routed.withLock({ $0.contains(ObjectIdentifier(executor.clock)) })
            else { return false }
            executor.enqueue(unowned: unsafeBitCast(job, to: UnownedJob.self))
            return true
        }
        routed.withLock { _ = $0.insert(ObjectIdentifier(clock)) }
        defer { routed.withLock { _ = $0.remove(ObjectIdentifier(clock)) } }
        return try await body()
    }
}
