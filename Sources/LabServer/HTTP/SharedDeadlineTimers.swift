import MicroHTTP
import Patterns

/// Request deadlines on the process's one timer heap (`TimerQueue.shared`, which every run's
/// sleeps use): a request costs a heap entry instead of a task and a runtime timer.
struct SharedDeadlineTimers: DeadlineTimers {
    func schedule(at deadline: ContinuousClock.Instant, _ action: @escaping @Sendable () -> Void) -> DeadlineToken {
        .identifier(TimerQueue.shared.schedule(at: deadline, action))
    }

    func cancel(_ token: DeadlineToken) {
        if case .identifier(let id) = token { TimerQueue.shared.cancel(timer: id) }
    }
}
