import Synchronization

/// A one-shot signal for tasks (asyncio's `Event`): `wait` suspends until `set` is called,
/// and returns at once while the event is set. `set` wakes every waiter, in the order they
/// began waiting; `clear` makes later waiters wait again.
///
/// Cancellation: a cancelled waiter leaves the queue and throws `CancellationError`; the
/// event and the other waiters are unaffected.
public final class AsyncEvent: Sendable {
    private struct State {
        var isSet = false
        var waiters = WaiterQueue<UnsafeContinuation<Void, any Error>>()
    }

    private let state = Mutex(State())

    public init() {}

    public var isSet: Bool { state.withLock { $0.isSet } }

    /// Tasks suspended in `wait` right now.
    public var waitingCount: Int { state.withLock { $0.waiters.count } }

    /// Suspends until the event is set; returns at once if it already is.
    public func wait() async throws {
        try Task.checkCancellation()
        let id = state.withLock { state -> UInt64? in state.isSet ? nil : state.waiters.makeID() }
        guard let id else { return }
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
                let outcome = state.withLock { state -> Result<Void, any Error>? in
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if state.isSet { return .success(()) }
                    state.waiters.append(id, continuation)
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            state.withLock { $0.waiters.remove(id) }?.resume(throwing: CancellationError())
        }
    }

    /// Sets the event and wakes every waiter. Returns how many were woken.
    @discardableResult
    public func set() -> Int {
        let woken = state.withLock { state in
            state.isSet = true
            return state.waiters.removeAll()
        }
        for waiter in woken { waiter.resume() }
        return woken.count
    }

    /// Unsets the event: later calls to `wait` suspend again.
    public func clear() {
        state.withLock { $0.isSet = false }
    }
}
