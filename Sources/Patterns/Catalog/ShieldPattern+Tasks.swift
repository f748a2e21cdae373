import Synchronization

/// A shield run's parameters, read once.
struct ShieldSetup: Sendable {
    let operationMs, cancelAfterMs: Int
    let byTimeout: Bool
    let shielded: Bool
    /// Whether the operation runs as a sibling of the waiter (what a shield amounts to).
    let innerIsSibling: Bool

    init(_ parameters: ParameterSet, fault: ShieldPattern.Fault?) {
        operationMs = parameters.int("operation_ms")
        cancelAfterMs = parameters.int("cancel_after_ms")
        byTimeout = parameters.string("how") == "timeout"
        shielded = parameters.bool("shield")
        innerIsSibling = (shielded || fault == .alwaysShields) && fault != .innerInsideOuter
    }
}

/// The inner operation's outcome, once: its value, or nothing (it was cancelled). Awaiting
/// it is leaving-able: a cancelled waiter stops waiting, the operation is not affected.
final class InnerOperation: Sendable {
    private let value = Mutex<Int?>(nil)
    private let ended = AsyncEvent()

    func deliver(_ result: Int) {
        value.withLock { $0 = result }
        ended.set()
    }

    func fail() { ended.set() }

    /// The operation's value; `CancellationError` when it was cancelled (as awaiting a
    /// cancelled asyncio task raises CancelledError) or when the waiter is.
    func result() async throws -> Int {
        try await ended.wait()
        guard let result = value.withLock({ $0 }) else { throw CancellationError() }
        return result
    }
}

/// What a shield run observed.
struct ShieldLog: Sendable {
    var awaiting = 0
    var innerEnd: (completed: Bool, ms: Double)?
    var outerEnd: (how: String, ms: Double)?
    var delivered: (value: Int, ms: Double)?
}

extension ShieldPattern {
    /// The operation (task 0): a sibling of the waiters when shielded, else run by the outer.
    func runInner(_ setup: ShieldSetup, _ inner: InnerOperation, _ log: Locked<ShieldLog>, _ context: RunContext) async throws {
        context.emit("shield.inner_started", ["task": 0, "inner_running": 1])
        do {
            let value = try await context.task(0, label: "inner", countsAsProgress: true) {
                try await context.sleep(ms: setup.operationMs)
                return setup.operationMs
            }
            let now = context.elapsedMs()
            log.withLock { $0.innerEnd = (true, now) }
            context.emit("shield.inner_completed", ["task": 0, "value": .int(value), "inner_running": 0])
            if fault == .resultLost { inner.fail() } else { inner.deliver(value) }
        } catch {
            let now = context.elapsedMs()
            log.withLock { $0.innerEnd = (false, now) }
            context.emit("shield.inner_cancelled", ["task": 0, "inner_running": 0])
            inner.fail()
            throw error
        }
    }

    /// The outer wait (task 1): awaits the inner through the shield until it is cancelled at
    /// the cancel time, or times out then.
    func waitAsOuter(_ setup: ShieldSetup, _ inner: InnerOperation, _ log: Locked<ShieldLog>, _ context: RunContext)
        async throws
    {
        let deadline = context.clock.now() + .milliseconds(setup.cancelAfterMs)
        let wait: @Sendable () async throws -> Void = {
            try await context.task(1, label: "outer") {
                let awaiting = log.withLock { log -> Int in
                    log.awaiting += 1
                    return log.awaiting
                }
                context.emit("shield.waiting", ["task": 1, "awaiting": .int(awaiting)])
                do {
                    if !setup.innerIsSibling {
                        try await runInner(setup, inner, log, context)
                    } else if fault == .outerWaitsForInner {
                        _ = try? await context.shielded { try await inner.result() }
                    } else {
                        _ = try await inner.result()
                    }
                } catch is CancellationError where setup.byTimeout && context.clock.now() >= deadline {
                    throw PatternTimeoutError(afterMs: Double(setup.cancelAfterMs))
                }
            }
        }
        do {
            if setup.byTimeout {
                try await context.clock.withDeadline(deadline, operation: wait)
            } else {
                try await cancel(wait, at: deadline, context)
            }
        } catch where (error is CancellationError || error is PatternTimeoutError) && !Task.isCancelled {
            let now = context.elapsedMs()
            let how = error is PatternTimeoutError ? "timeout" : "cancel"
            let awaiting = log.withLock { log -> Int in
                log.outerEnd = (how, now)
                log.awaiting -= 1
                return log.awaiting
            }
            context.emit("shield.outer_cancelled", ["task": 1, "how": .string(how), "awaiting": .int(awaiting)])
            return
        }
        let now = context.elapsedMs()
        log.withLock { $0.outerEnd = ("completed", now) }
    }

    /// Runs `wait` and cancels it at `deadline` (someone cancelling the waiting task).
    private func cancel(_ wait: @escaping @Sendable () async throws -> Void, at deadline: Duration, _ context: RunContext)
        async throws
    {
        try await withThrowingTaskGroup(of: Bool.self) { race in
            race.addTask {
                try await wait()
                return true
            }
            race.addTask {
                try await context.clock.sleep(until: deadline)
                return false
            }
            let waitEnded = try await race.next() ?? false
            race.cancelAll()
            if !waitEnded {
                while let _ = try await race.next() {}
            }
        }
    }

    /// The keeper (task 2): the caller that kept the inner task awaits it to the end.
    func waitAsKeeper(_ setup: ShieldSetup, _ inner: InnerOperation, _ log: Locked<ShieldLog>, _ context: RunContext)
        async throws
    {
        do {
            try await context.task(2, label: "keeper") {
                let awaiting = log.withLock { log -> Int in
                    log.awaiting += 1
                    return log.awaiting
                }
                context.emit("shield.waiting", ["task": 2, "awaiting": .int(awaiting)])
                let value = try await inner.result()
                let now = context.elapsedMs()
                let left = log.withLock { log -> Int in
                    log.delivered = (value, now)
                    log.awaiting -= 1
                    return log.awaiting
                }
                context.emit("shield.result_delivered", ["task": 2, "value": .int(value), "awaiting": .int(left)])
            }
        } catch is CancellationError where !Task.isCancelled {
            let left = log.withLock { log -> Int in
                log.awaiting -= 1
                return log.awaiting
            }
            context.emit("shield.result_lost", ["task": 2, "awaiting": .int(left)])
        }
    }
}
