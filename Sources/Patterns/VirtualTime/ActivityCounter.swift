import Dispatch
import Synchronization

/// Counts the threads of a virtual run that run outside its executor and can still change
/// the run without the clock moving: a thread started for blocking work, until it ends or
/// blocks on the virtual clock. Zero means every such thread is parked or gone, so only the
/// executor (and the clock) can make anything happen next.
///
/// Every thread reports its own transitions synchronously (a launched thread when it starts
/// and ends, the clock when a thread blocks on it and, counted by the waking thread before
/// the woken one runs, when it wakes), so no change can slip between a look and a jump.
public final class ActivityCounter: Sendable {
    private struct State {
        var active = 0
        /// Threads blocked in `blockUntilActive(atMost:)`, with their bound.
        var blockedWaiters: [(limit: Int, wake: DispatchSemaphore)] = []
        /// Told whenever the count drops to zero (the executor, which may then jump).
        var onIdle: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())

    public init() {}

    public var active: Int { state.withLock { $0.active } }
    public var isIdle: Bool { active <= 0 }

    public func begin(_ count: Int = 1) {
        state.withLock { $0.active += count }
    }

    public func end(_ count: Int = 1) {
        let (unblocked, idleHandler) = state.withLock { state -> ([DispatchSemaphore], (@Sendable () -> Void)?) in
            state.active -= count
            let active = state.active
            let unblocked = state.blockedWaiters.filter { active <= $0.limit }.map(\.wake)
            state.blockedWaiters.removeAll { active <= $0.limit }
            return (unblocked, active <= 0 ? state.onIdle : nil)
        }
        for thread in unblocked { thread.signal() }
        idleHandler?()
    }

    /// Sets who is told when the count drops to zero.
    func whenIdle(_ handler: (@Sendable () -> Void)?) {
        state.withLock { $0.onIdle = handler }
    }

    /// Blocks the calling thread until at most `limit` threads are active: how a launcher
    /// waits for the thread it just started to park or end, and how the executor waits for
    /// a thread it woke to settle.
    public func blockUntilActive(atMost limit: Int) {
        let wake = DispatchSemaphore(value: 0)
        let mustWait = state.withLock { state -> Bool in
            guard state.active > limit else { return false }
            state.blockedWaiters.append((limit, wake))
            return true
        }
        if mustWait { wake.wait() }
    }
}
