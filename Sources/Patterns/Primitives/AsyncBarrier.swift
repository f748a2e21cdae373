import Synchronization

/// asyncio's `Barrier(parties)`: `wait()` suspends until `parties` tasks are waiting, then
/// releases them all together and starts over for the next round (a phase).
///
/// - `wait()` returns the caller's arrival index in its round, 0 to parties - 1, as asyncio's
///   does.
/// - `abort()` breaks the barrier: every waiting party, and every later caller, gets
///   `BrokenBarrierError` (until `reset()`). A party that fails calls it, so that the others
///   do not wait forever for an arrival that will never come.
///
/// Cancellation: a waiting party that is cancelled leaves the round, which then needs one
/// more arrival (asyncio does the same; threading.Barrier breaks instead).
public final class AsyncBarrier: Sendable {
    private struct State {
        let parties: Int
        var waiters = WaiterQueue<UnsafeContinuation<Void, any Error>>()
        var broken = false
        var round = 0
    }

    private let state: Mutex<State>

    public init(parties: Int) {
        precondition(parties >= 1, "a barrier needs at least one party")
        state = Mutex(State(parties: parties))
    }

    public var parties: Int { state.withLock { $0.parties } }
    /// Parties waiting in the current round.
    public var waitingCount: Int { state.withLock { $0.waiters.count } }
    public var isBroken: Bool { state.withLock { $0.broken } }

    /// Waits until every party has arrived; returns this caller's arrival index.
    @discardableResult
    public func wait() async throws -> Int {
        try Task.checkCancellation()
        let id = state.withLock { $0.waiters.makeID() }
        var index = 0
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
                let (outcome, released) = state.withLock { state -> (Result<Void, any Error>?, [UnsafeContinuation<Void, any Error>]) in
                    if state.broken { return (.failure(BrokenBarrierError()), []) }
                    if Task.isCancelled { return (.failure(CancellationError()), []) }
                    index = state.waiters.count
                    guard index + 1 == state.parties else {
                        state.waiters.append(id, continuation)
                        return (nil, [])
                    }
                    state.round += 1
                    return (.success(()), state.waiters.removeAll())
                }
                for party in released { party.resume() }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            state.withLock { $0.waiters.remove(id) }?.resume(throwing: CancellationError())
        }
        return index
    }

    /// Breaks the barrier: waiting parties and later callers get `BrokenBarrierError`.
    public func abort() {
        let waiting = state.withLock { state in
            state.broken = true
            return state.waiters.removeAll()
        }
        for party in waiting { party.resume(throwing: BrokenBarrierError()) }
    }

    /// Mends a broken barrier for new rounds (waiting parties, if any, are broken first).
    public func reset() {
        abort()
        state.withLock { $0.broken = false }
    }
}

/// Thrown by `AsyncBarrier.wait()` when the barrier was broken (asyncio's BrokenBarrierError).
public struct BrokenBarrierError: Error, Sendable, CustomStringConvertible {
    public init() {}
    public var description: String { "the barrier is broken" }
}
