import DequeModule
import Synchronization

/// asyncio's `Condition`: a lock, and waiters that `notify` wakes.
///
/// - `wait()` must be called holding the lock. It registers the caller, releases the lock,
///   suspends until notified, and re-acquires the lock before it returns, also when it was
///   cancelled (as asyncio's does). Registering before releasing is what makes a wake-up
///   impossible to lose: a notifier needs the lock, so it cannot notify in between.
/// - `waitFor(predicate)` loops `wait()` until the predicate holds, checking it with the
///   lock held: nobody proceeds with the predicate false.
/// - `notify(n)` (holding the lock) wakes at most `n` waiters, first come first served, and
///   returns how many it woke; `notifyAll()` wakes every waiter.
///
/// Cancellation: a waiter cancelled before it was notified leaves the queue; one notified
/// and then cancelled passes its notification to the next waiter (asyncio 3.13), so the
/// wake-up is not lost. Either way it holds the lock again when it throws.
public final class AsyncCondition: Sendable {
    private struct Waiter {
        var continuation: UnsafeContinuation<Void, any Error>?
        var notified = false
    }

    private struct State {
        var waiters: [UInt64: Waiter] = [:]
        var order: Deque<UInt64> = []
        var lastID: UInt64 = 0

        /// Marks up to `limit` waiters notified, oldest first; the suspended ones to resume.
        mutating func notify(upTo limit: Int) -> (woken: Int, resume: [UnsafeContinuation<Void, any Error>]) {
            var woken = 0
            var resume: [UnsafeContinuation<Void, any Error>] = []
            while woken < limit, let id = order.popFirst() {
                guard var waiter = waiters[id] else { continue }
                woken += 1
                if let continuation = waiter.continuation {
                    waiters[id] = nil
                    resume.append(continuation)
                } else {
                    waiter.notified = true
                    waiters[id] = waiter
                }
            }
            return (woken, resume)
        }
    }

    private let lock = AsyncLock()
    private let state = Mutex(State())

    public init() {}

    /// Tasks waiting to be notified right now.
    public var waitingCount: Int { state.withLock { $0.order.count } }
    public var isLocked: Bool { lock.isLocked }

    public func acquire() async throws { try await lock.lock() }
    public func release() { lock.unlock() }

    /// Releases the lock, waits until notified, re-acquires the lock.
    public func wait() async throws {
        let id = state.withLock { state -> UInt64 in
            state.lastID += 1
            state.waiters[state.lastID] = Waiter()
            state.order.append(state.lastID)
            return state.lastID
        }
        lock.unlock()
        var failure: (any Error)?
        do {
            try await suspendUntilNotified(id)
        } catch {
            failure = error
        }
        await lock.lockIgnoringCancellation()
        if let failure { throw failure }
        if Task.isCancelled {
            // Notified, then cancelled before it ran: the notification goes to the next waiter.
            notify(1)
            throw CancellationError()
        }
    }

    /// Waits until `predicate` holds; it is evaluated with the lock held.
    public func waitFor(_ predicate: () -> Bool) async throws {
        while !predicate() { try await wait() }
    }

    /// Wakes at most `n` waiters; call it holding the lock. Returns how many it woke.
    @discardableResult
    public func notify(_ n: Int = 1) -> Int {
        let (woken, resume) = state.withLock { $0.notify(upTo: n) }
        for continuation in resume { continuation.resume() }
        return woken
    }

    /// Wakes every waiter; call it holding the lock. Returns how many it woke.
    @discardableResult
    public func notifyAll() -> Int {
        notify(.max)
    }

    private func suspendUntilNotified(_ id: UInt64) async throws {
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
                let now = state.withLock { state -> Result<Void, any Error>? in
                    guard let waiter = state.waiters[id] else { return .success(()) }
                    if waiter.notified {
                        state.waiters[id] = nil
                        return .success(())
                    }
                    if Task.isCancelled {
                        state.waiters[id] = nil
                        state.order.removeAll { $0 == id }
                        return .failure(CancellationError())
                    }
                    state.waiters[id]?.continuation = continuation
                    return nil
                }
                if let now { continuation.resume(with: now) }
            }
        } onCancel: {
            let cancelled = state.withLock { state -> UnsafeContinuation<Void, any Error>? in
                guard let waiter = state.waiters[id], !waiter.notified, let continuation = waiter.continuation else { return nil }
                state.waiters[id] = nil
                state.order.removeAll { $0 == id }
                return continuation
            }
            cancelled?.resume(throwing: CancellationError())
        }
    }
}
