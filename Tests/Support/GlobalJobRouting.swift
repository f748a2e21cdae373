import CTestHooks
import Patterns

/// Sends the global-executor jobs enqueued on a virtual run's own thread to that run's
/// executor. swift-async-algorithms' `debounce` consumes its upstream in a `Task {}` of its
/// own, which inherits no executor preference: without this, it would run on the global
/// pool while the run's executor jumps the clock past it. Enqueued on the run's thread means
/// started or woken by the run (a job of it, or the clock's jump), so every job of such a
/// task joins the run's FIFO queue, and the run stays one thread and one order.
///
/// Tests only: the service refuses `clock: virtual` for patterns that need this (their
/// `virtualClockRefusal` says why), because this hook is process-wide.
enum GlobalJobRouting {
    /// Installs the hook once per process; later calls do nothing.
    static func install() {
        lab_install_global_enqueue_router { job in
            guard let executor = VirtualExecutor.onCurrentThread else { return false }
            executor.enqueue(unowned: unsafeBitCast(job, to: UnownedJob.self))
            return true
        }
    }
}
