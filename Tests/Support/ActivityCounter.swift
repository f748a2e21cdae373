import Dispatch
import Synchronization

/// Counts what, in a run under test, can still make progress without the manual clock
/// moving: an executor with jobs to run, a thread that is running. Zero means every task
/// is suspended and every thread is parked or blocked on the clock: the run is waiting for
/// time to pass (or is stuck), and a driver may advance the clock.
///
/// Every agent reports its own transitions synchronously: the executor when it gets work
/// and when it runs dry, a launched thread when it starts and ends, the manual clock when a
/// thread blocks on it and when `advance` wakes it (counted by the advancing thread, before
/// the woken one runs). So no change of state can slip between a check and an advance.
public final class ActivityCounter: Sendable {
    private struct State {
        var active = 0
        var waiters: [UInt64: UnsafeContinuation<Void, any Error>] = [:]
        /// Threads blocked in `blockUntilActive(atMost:)`, with their bound.
        var blockedWaiters: [(limit: Int, wake: DispatchSemaphore)] = []
        var lastID: UInt64 = 0
    }

    private let state = Mutex(State())

    public init() {}

    public var active: Int { state.withLock { $0.active } }
    public var isIdle: Bool { active <= 0 }

    public func begin(_ count: Int = 1) {
        state.withLock { $0.active += count }
    }

    public func end(_ count: Int = 1) {
        let (woken, unblocked) = state.withLock { state -> ([UnsafeContinuation<Void, any Error>], [DispatchSemaphore]) in
            state.active -= count
            let active = state.active
            let unblocked = state.blockedWaiters.filter { active <= $0.limit }.map(\.wake)
            state.blockedWaiters.removeAll { active <= $0.limit }
            guard active <= 0 else { return ([], unblocked) }
            defer { state.waiters.removeAll() }
            return (Array(state.waiters.values), unblocked)
        }
        TestExecutor.withoutRouting { for waiter in woken { waiter.resume() } }
        for thread in unblocked { thread.signal() }
    }

    /// Blocks the calling thread until at most `limit` agents are active: how a launcher
    /// waits, synchronously, for the thread it just started to park or end. Fails after
    /// `timeout` of wall time rather than hanging.
    public func blockUntilActive(atMost limit: Int, timeout: Duration = .seconds(30)) {
        let wake = DispatchSemaphore(value: 0)
        let mustWait = state.withLock { state -> Bool in
            guard state.active > limit else { return false }
            state.blockedWaiters.append((limit, wake))
            return true
        }
        guard mustWait else { return }
        let (seconds, attoseconds) = timeout.components
        let nanoseconds = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
        if wake.wait(timeout: .now() + .nanoseconds(nanoseconds)) == .timedOut {
            preconditionFailure("a launched thread neither parked nor ended within \(timeout)")
        }
    }

    /// Suspends until nothing is active. Fails with `ActivityTimeout` after `timeout` of
    /// wall time: a watchdog against a run that never settles, not a synchronisation.
    public func waitUntilIdle(timeout: Duration = .seconds(30)) async throws {
        try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
            let id = state.withLock { state -> UInt64? in
                guard state.active > 0 else { return nil }
                state.lastID += 1
                state.waiters[state.lastID] = continuation
                return state.lastID
            }
            guard let id else { return continuation.resume() }
            let (seconds, attoseconds) = timeout.components
            let nanoseconds = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) { [self] in
                let expired = state.withLock { $0.waiters.removeValue(forKey: id) }
                expired?.resume(throwing: ActivityTimeout(active: active, timeout: timeout))
            }
        }
    }
}

/// A run under test did not settle in time: something kept running (a busy loop, a thread
/// that never parks) for longer than any test should take.
public struct ActivityTimeout: Error, CustomStringConvertible {
    public let active: Int
    public let timeout: Duration
    public var description: String { "still \(active) active agent(s) after \(timeout) of wall time" }
}
