import Patterns
import Synchronization

/// A latch that is fired once and waited on by any number of tasks. A waiter returns when
/// the signal fires or when its own task is cancelled, whichever comes first; it never
/// throws and never leaks its continuation.
public final class OneShotSignal: Sendable {
    private struct State {
        var fired = false
        var waiters = WaiterSet()
    }

    private let state = Mutex(State())

    public init() {}

    public var isFired: Bool { state.withLock { $0.fired } }

    /// Fires the signal; returns false if it had already fired.
    @discardableResult
    public func fire() -> Bool {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>]? in
            guard !state.fired else { return nil }
            state.fired = true
            return state.waiters.takeAll()
        }
        guard let waiters else { return false }
        for waiter in waiters { waiter.resume() }
        return true
    }

    public func wait() async {
        let id = state.withLock { $0.waiters.makeID() }
        await WaiterSet.wait(
            id: id,
            register: { continuation in
                state.withLock { state in !state.fired && state.waiters.register(id, continuation) }
            },
            cancel: { self.state.withLock { $0.waiters.cancel(id) } },
            forget: { state.withLock { $0.waiters.forget(id) } })
    }

    /// Waits for the signal for at most `timeout`; returns whether it fired. Once the waiter
    /// is registered, an action on `timers` is scheduled that resumes it if it is still
    /// there at the deadline: no task races the wait, which every `?wait=` request used to
    /// pay for with two tasks and a libdispatch timer.
    public func wait(timeout: Duration, timers: TimerQueue = .shared) async -> Bool {
        if isFired { return true }
        let deadline = ContinuousClock.now.advanced(by: timeout)
        let id = state.withLock { $0.waiters.makeID() }
        var timer: UInt64?
        await WaiterSet.wait(
            id: id,
            register: { continuation in
                let registered = state.withLock { state in !state.fired && state.waiters.register(id, continuation) }
                if registered {
                    timer = timers.schedule(at: deadline) { [self] in
                        state.withLock { $0.waiters.remove(id) }?.resume()
                    }
                }
                return registered
            },
            cancel: { self.state.withLock { $0.waiters.cancel(id) } },
            forget: { state.withLock { $0.waiters.forget(id) } })
        if let timer { timers.cancel(timer: timer) }
        return isFired
    }
}
