import Synchronization

/// A counting semaphore for tasks: `acquire` suspends (never blocks a thread) while no
/// permit is free, and waiters are served strictly first come, first served.
///
/// Cancellation: a waiter cancelled while suspended leaves the queue and throws
/// `CancellationError`; it held no permit and none is lost. A waiter whose permit was
/// handed over before the cancellation reached it returns normally and owns the permit, so
/// a permit is never granted to a task that has already given up. `acquire` on a task that
/// is already cancelled throws at once, even when a permit is free.
///
/// `release` hands the permit directly to the longest waiter, so a newcomer cannot barge
/// ahead of the queue.
public final class AsyncSemaphore: Sendable {
    private struct State {
        var permits: Int
        var waiters = WaiterQueue<UnsafeContinuation<Void, any Error>>()
    }

    private let state: Mutex<State>

    public init(permits: Int) {
        precondition(permits >= 0, "a semaphore cannot start with \(permits) permits")
        state = Mutex(State(permits: permits))
    }

    /// Permits free right now.
    public var availablePermits: Int { state.withLock { $0.permits } }

    /// Tasks suspended in `acquire` right now.
    public var waitingCount: Int { state.withLock { $0.waiters.count } }

    /// Takes a permit, suspending in FIFO order until one is free.
    public func acquire() async throws {
        try Task.checkCancellation()
        if tryAcquire() { return }
        let id = state.withLock { $0.waiters.makeID() }
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
                let outcome = state.withLock { state -> Result<Void, any Error>? in
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if state.permits > 0 && state.waiters.isEmpty {
                        state.permits -= 1
                        return .success(())
                    }
                    state.waiters.append(id, continuation)
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            state.withLock { $0.waiters.remove(id) }?.resume(throwing: CancellationError())
        }
    }

    /// Takes a permit, waiting in FIFO order, whether or not the task is cancelled: for
    /// cleanup that must get the permit back (asyncio's Condition re-acquires its lock even
    /// when the wait was cancelled). It cannot be interrupted, so it must only wait for a
    /// holder that is sure to release.
    public func acquireIgnoringCancellation() async {
        if tryAcquire() { return }
        let id = state.withLock { $0.waiters.makeID() }
        // Never resumed with an error: no cancellation handler removes this waiter.
        try? await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
            let acquired = state.withLock { state -> Bool in
                guard state.permits > 0 && state.waiters.isEmpty else {
                    state.waiters.append(id, continuation)
                    return false
                }
                state.permits -= 1
                return true
            }
            if acquired { continuation.resume() }
        }
    }

    /// Takes a permit if one is free and nobody is queued for it.
    public func tryAcquire() -> Bool {
        state.withLock { state in
            guard state.permits > 0 && state.waiters.isEmpty else { return false }
            state.permits -= 1
            return true
        }
    }

    /// Gives a permit back: to the longest waiter if there is one, else to the pool.
    public func release() {
        let next = state.withLock { state -> UnsafeContinuation<Void, any Error>? in
            if let waiter = state.waiters.popFirst() { return waiter }
            state.permits += 1
            return nil
        }
        next?.resume()
    }

    /// Runs `body` holding a permit, and releases it however `body` ends.
    public func withPermit<T>(_ body: () async throws -> T) async throws -> T {
        try await acquire()
        defer { release() }
        return try await body()
    }
}
