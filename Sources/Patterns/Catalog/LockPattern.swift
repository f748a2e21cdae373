/// lock: read, suspend, write on shared state, with and without a lock around it.
///
/// - Parameters: `increments` (1...maxCount) workers each add one to a shared counter by
///   reading it, suspending `hold_ms` (1...maxDelayMs: the suspension is what opens the
///   race), and writing back read + 1; `use_lock` wraps that in an `AsyncLock`. Without
///   the lock at least two workers are needed for a race (cross-checked).
/// - Events, per worker (capped): `task.started`; `lock.acquired` (with the lock, and how
///   many wait); `counter.read` and `counter.written` (with the values); `lock.released`;
///   `task.finished`. Workers start together (a start gate), so their attempts overlap.
///   `counter.abandoned` for a worker cancelled between its read and its write.
/// - Counters: `counter` (on `counter.written`, ending at the `counter` figure) and
///   `in_section`, the workers between their read and their write (its peak is
///   `peak_in_section`), on `counter.read`, `counter.written` and `counter.abandoned`.
/// - Cancellation: waiting workers leave the lock's queue, the holder stops and releases;
///   the run ends `cancelled`.
/// - Checks with the lock: the counter equals increments and at most one worker was ever
///   between its read and its write. Without: updates were lost (increments - counter > 0),
///   because several workers were between read and write at once.
public struct LockPattern: Pattern {
    public init() {}

    public let name = "lock"
    public let title = "Lock: read-suspend-write without lost updates"
    public let summary = "Workers increment a shared counter by reading it, suspending, and writing back. Without a lock they all read the same value and updates are lost; with an async lock the read-suspend-write sections take turns."
    public let asyncioEquivalent = "async with asyncio.Lock(): read; await asyncio.sleep(); write"
    public let swiftEquivalent = "AsyncLock (a one-permit FIFO semaphore) around the read-await-write"
    public let swiftNote = "An actor makes each access atomic but does not make a read-await-write atomic (actor reentrancy); a Mutex must never be held across an await. An async lock holds across suspension points."
    public let invariants = [
        "with the lock: counter == increments, one worker at a time in the section",
        "without it: lost updates > 0, counted as increments - counter",
    ]
    public let eventNames = ["lock.acquired", "counter.read", "counter.written", "lock.released", "counter.abandoned"]
    public let counters = [
        CounterSpec("counter", "the shared counter"), CounterSpec("in_section", "workers between read and write"),
    ]

    public func parameters(limits: PatternLimits) -> [ParameterSpec] {
        [
            .integer("increments", default: 20, min: 1, max: limits.maxCount, "How many workers each add one."),
            .boolean("use_lock", default: true, "Guard the read-suspend-write with a lock."),
            .integer("hold_ms", default: 10, min: 1, max: limits.maxDelayMs, "How long a worker suspends between its read and its write."),
        ]
    }

    public func crossCheck(_ parameters: ParameterSet) -> [FieldIssue] {
        guard !parameters.bool("use_lock") && parameters.int("increments") < 2 else { return [] }
        return [FieldIssue(field: "increments", message: "must be at least 2 without the lock: a race needs two workers")]
    }

    public func plannedDuration(_ parameters: ParameterSet) -> Duration {
        let hold = parameters.int("hold_ms")
        return .milliseconds(parameters.bool("use_lock") ? hold * parameters.int("increments") : hold)
    }

    /// The shared counter, and how many workers are between their read and their write.
    struct Counter {
        var value = 0
        var inSection = 0
        var peakInSection = 0
    }

    public func run(_ parameters: ParameterSet, context: RunContext) async throws -> PatternOutcome {
        let increments = parameters.int("increments")
        let useLock = parameters.bool("use_lock")
        context.recorder.setTotal(increments)
        let counter = Locked(Counter())
        let lock = AsyncLock()
        let gate = AsyncEvent()
        try await withThrowingDiscardingTaskGroup { group in
            for worker in 0..<increments {
                group.addTask {
                    try await context.task(worker, label: "worker-\(worker)") {
                        try await gate.wait()
                        guard useLock else {
                            return try await increment(worker, counter, parameters.int("hold_ms"), context)
                        }
                        try await lock.withLock {
                            context.emit("lock.acquired", ["worker": .int(worker), "waiting": .int(lock.waitingCount)])
                            defer { context.emit("lock.released", ["worker": .int(worker)]) }
                            try await increment(worker, counter, parameters.int("hold_ms"), context)
                        }
                    }
                }
            }
            gate.set()
        }
        return outcome(counter.value, increments: increments, useLock: useLock)
    }

    /// Read, suspend, write: the section the lock exists for.
    private func increment(_ worker: Int, _ counter: Locked<Counter>, _ holdMs: Int, _ context: RunContext) async throws {
        let read = counter.withLock { counter -> Int in
            counter.inSection += 1
            counter.peakInSection = max(counter.peakInSection, counter.inSection)
            context.emit("counter.read", ["worker": .int(worker), "value": .int(counter.value), "in_section": .int(counter.inSection)])
            return counter.value
        }
        do {
            try await context.sleep(ms: holdMs)
        } catch {
            counter.withLock { counter in
                counter.inSection -= 1
                context.emit("counter.abandoned", ["worker": .int(worker), "in_section": .int(counter.inSection)])
            }
            throw error
        }
        // Announced under the lock that writes, so the counter's values reach the log in the
        // order they were written: the last one is the counter's final value.
        counter.withLock { counter in
            counter.value = read + 1
            counter.inSection -= 1
            context.emit(
                "counter.written",
                ["worker": .int(worker), "value": .int(read + 1), "counter": .int(read + 1), "in_section": .int(counter.inSection)])
        }
    }

    private func outcome(_ counter: Counter, increments: Int, useLock: Bool) -> PatternOutcome {
        let lost = increments - counter.value
        let checks: [Check] =
            useLock
            ? [
                .equal("counter_equals_increments", observed: counter.value, expected: increments),
                .equal("one_worker_in_section", observed: counter.peakInSection, expected: 1),
            ]
            : [
                .atLeast("lost_updates_observed", observed: lost, minimum: 1),
                .atLeast("workers_overlapped_in_section", observed: counter.peakInSection, minimum: 2),
            ]
        return PatternOutcome(
            result: [
                "use_lock": .bool(useLock), "increments": .int(increments), "counter": .int(counter.value),
                "lost_updates": .int(lost), "peak_in_section": .int(counter.peakInSection),
            ],
            checks: checks)
    }
}
