import Synchronization

/// asyncio's `async with asyncio.timeout(delay) as cm:` as a scope: `run` races an operation
/// against a deadline (time since the run clock's origin) that `reschedule` can move while
/// the operation runs; `expired` says whether this scope's own deadline fired.
///
/// When the deadline passes first, the operation is cancelled and awaited (it never outlives
/// the scope), `expired` becomes true and `TimeoutScopeExpired` naming this scope is thrown.
/// An error thrown by the operation leaves the scope as it is: an inner scope's expiry
/// passing through an outer one stays the inner's, and the outer's `expired` stays false, as
/// asyncio's outer timeout does not claim a TimeoutError it did not cause. When an enclosing
/// scope cancels this one, its operation sees the cancellation and `CancellationError`
/// leaves the scope (it expired elsewhere).
///
/// Cancellation is cooperative: an operation that ignores it delays the expiry until it
/// ends. Swift has no built-in timeout: this is a task group of two children, the operation
/// and a timer that sleeps until the current deadline and sleeps again when it moved.
public final class TimeoutScope: Sendable {
    private struct State {
        var deadline: Duration
        var expired = false
        /// Set (and replaced) by `reschedule`, to wake a timer sleeping toward the old deadline.
        var moved = AsyncEvent()
    }

    /// What the scope is called in events and errors: "outer", "inner".
    public let name: String
    private let state: Mutex<State>

    public init(name: String, deadline: Duration) {
        self.name = name
        state = Mutex(State(deadline: deadline))
    }

    public var deadline: Duration { state.withLock { $0.deadline } }
    /// Whether this scope's own deadline fired (asyncio's `cm.expired()`).
    public var expired: Bool { state.withLock { $0.expired } }

    /// Moves the deadline (asyncio's `cm.reschedule(when)`), earlier or later. After the
    /// scope expired it changes nothing.
    public func reschedule(to deadline: Duration) {
        let moved = state.withLock { state -> AsyncEvent? in
            guard !state.expired else { return nil }
            state.deadline = deadline
            defer { state.moved = AsyncEvent() }
            return state.moved
        }
        moved?.set()
    }

    public func run<T: Sendable>(on clock: RunClock, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        let startMs = clock.elapsedMs()
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask(operation: operation)
            group.addTask {
                try await self.sleepUntilExpired(on: clock)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next() else { preconditionFailure("a race of two tasks ended empty") }
            guard let value = first else { throw TimeoutScopeExpired(scope: name, afterMs: clock.elapsedMs() - startMs) }
            return value
        }
    }

    /// The timer: sleeps toward the current deadline, again whenever it moved, and marks the
    /// scope expired (under the lock, so a reschedule after that changes nothing).
    private func sleepUntilExpired(on clock: RunClock) async throws {
        while true {
            let (deadline, moved) = state.withLock { ($0.deadline, $0.moved) }
            do {
                try await clock.withDeadline(deadline) { try await moved.wait() }
                continue  // rescheduled: look at the new deadline
            } catch is PatternTimeoutError {}
            let fired = state.withLock { state -> Bool in
                guard state.deadline <= clock.now() else { return false }
                state.expired = true
                return true
            }
            if fired { return }
        }
    }
}

/// Thrown out of a `TimeoutScope` whose own deadline fired (asyncio's TimeoutError, with the
/// scope that raised it).
public struct TimeoutScopeExpired: Error, Sendable, CustomStringConvertible {
    public let scope: String
    public let afterMs: Double

    public init(scope: String, afterMs: Double) {
        self.scope = scope
        self.afterMs = afterMs
    }

    public var description: String { "the \(scope) timeout expired after \(afterMs) ms" }
}
