/// A mutual-exclusion lock for tasks (asyncio's `Lock`): held across suspension points,
/// unlike a `Mutex`, which must never be held across an `await`. Waiters are served first
/// come, first served; it is an `AsyncSemaphore` of one permit, with its cancellation
/// guarantees: a cancelled waiter never takes or loses the lock.
///
/// Not reentrant: a task that locks twice waits for itself forever.
public final class AsyncLock: Sendable {
    private let semaphore = AsyncSemaphore(permits: 1)

    public init() {}

    /// True while some task holds the lock.
    public var isLocked: Bool { semaphore.availablePermits == 0 }

    /// Tasks suspended waiting for the lock right now.
    public var waitingCount: Int { semaphore.waitingCount }

    public func lock() async throws {
        try await semaphore.acquire()
    }

    /// Locks whether or not the task is cancelled (see `AsyncSemaphore.acquireIgnoringCancellation`).
    public func lockIgnoringCancellation() async {
        await semaphore.acquireIgnoringCancellation()
    }

    public func unlock() {
        semaphore.release()
    }

    /// Runs `body` holding the lock, and unlocks however `body` ends.
    public func withLock<T>(_ body: () async throws -> T) async throws -> T {
        try await semaphore.withPermit(body)
    }
}
