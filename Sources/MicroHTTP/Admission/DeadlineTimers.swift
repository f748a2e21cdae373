/// Runs an action at a deadline unless it is cancelled first: how the server keeps each async
/// request's deadline.
///
/// A server uses `TaskDeadlineTimers` (a task that sleeps) unless its configuration supplies
/// another: a timer heap shared with everything else that sleeps in the process saves each
/// request a task and a runtime timer, which showed in the profile of short requests.
public protocol DeadlineTimers: Sendable {
    /// Schedules `action`; the returned token cancels it.
    func schedule(at deadline: ContinuousClock.Instant, _ action: @escaping @Sendable () -> Void) -> DeadlineToken
    /// Cancels a scheduled action; cancelling one that ran or was cancelled does nothing.
    func cancel(_ token: DeadlineToken)
}

/// What `DeadlineTimers.schedule` returns: the implementation's own handle.
public enum DeadlineToken: Sendable {
    case identifier(UInt64)
    case task(Task<Void, Never>)
}

/// The default: one task per deadline, sleeping on the continuous clock.
public struct TaskDeadlineTimers: DeadlineTimers {
    public init() {}

    public func schedule(at deadline: ContinuousClock.Instant, _ action: @escaping @Sendable () -> Void) -> DeadlineToken {
        .task(Task {
            guard (try? await Task.sleep(until: deadline, clock: .continuous)) != nil else { return }
            action()
        })
    }

    public func cancel(_ token: DeadlineToken) {
        if case .task(let task) = token { task.cancel() }
    }
}
