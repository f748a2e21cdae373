extension RunClock {
    /// Runs `operation`, racing it against `deadline` (time since the clock's origin): the
    /// first to finish wins and the other is cancelled. When the deadline wins, `operation`
    /// is cancelled, awaited (structured: it never outlives this call) and
    /// `PatternTimeoutError` is thrown.
    ///
    /// Cancellation is cooperative: an operation that ignores it delays the timeout until
    /// it ends, which is what `elapsed >= timeout` then shows.
    public func withDeadline<T: Sendable>(
        _ deadline: Duration, operation: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let startMs = elapsedMs()
        return try await withThrowingTaskGroup(of: T.self) { group in
            group.addTask(operation: operation)
            group.addTask {
                try await sleep(until: deadline)
                throw PatternTimeoutError(afterMs: elapsedMs() - startMs)
            }
            defer { group.cancelAll() }
            guard let first = try await group.next() else { preconditionFailure("a race of two tasks ended empty") }
            return first
        }
    }

    /// `withDeadline` with the deadline `timeout` from now (`asyncio.wait_for`).
    public func withTimeout<T: Sendable>(
        _ timeout: Duration, operation: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        try await withDeadline(now() + timeout, operation: operation)
    }
}
