/// event: many tasks wait for one signal.
///
/// - Parameters: `waiters` (1...maxCount) tasks wait on one event; a setter sets it after
///   `set_after_ms` (0...maxDelayMs).
/// - Events: `task.started` and `event.waiting` per waiter, the setter's `task.started`;
///   `event.set` (with how many were waiting); then per waiter `event.proceeded` and
///   `task.finished` (per-task events capped); `progress` counts waiters that proceeded;
///   `event.abandoned` for a waiter cancelled while it waited.
/// - Counters: `waiting` (waiters that have not proceeded; `event.set` carries it too) and
///   `proceeded` (ending at the `proceeded` figure).
/// - Cancellation: waiters leave the event's queue, the setter stops sleeping; the run
///   ends `cancelled`.
/// - Checks: no waiter proceeded before the set (the setter records the set, under a lock,
///   before it wakes anyone); every waiter proceeded; none proceeded earlier than the set.
public struct EventPattern: Pattern {
    public init() {}

    public let name = "event"
    public let title = "Event: many wait, one signals"
    public let summary = "Waiters suspend on an event until a setter sets it; then all of them proceed at once, and a waiter that arrives after the set does not wait at all."
    public let asyncioEquivalent = "asyncio.Event: await event.wait() / event.set()"
    public let swiftEquivalent = "AsyncEvent: continuations resumed together by set()"
    public let swiftNote = "Swift has no built-in async event; this one keeps the waiters' continuations and resumes them all on set(). Resumed waiters run as the cooperative pool's threads free up, not in one step."
    public let invariants = [
        "no waiter proceeds before the set",
        "every waiter proceeds after it",
    ]
    public let eventNames = ["event.waiting", "event.set", "event.proceeded", "event.abandoned"]
    public let counters = [CounterSpec("waiting", "waiters waiting"), CounterSpec("proceeded", "waiters that proceeded")]

    public func parameters(limits: PatternLimits) -> [ParameterSpec] {
        [
            .integer("waiters", default: 3, min: 1, max: limits.maxCount, "How many tasks wait on the event."),
            .integer("set_after_ms", default: 100, min: 0, max: limits.maxDelayMs, "When the setter sets it."),
        ]
    }

    public func plannedDuration(_ parameters: ParameterSet) -> Duration {
        .milliseconds(parameters.int("set_after_ms"))
    }

    /// What the waiters saw.
    struct Tally {
        var setAtMs: Double?
        var waitingAtSet = 0
        var proceeded = 0
        var proceededBeforeSet = 0
        var earliestProceedMs = Double.infinity
        var latestProceedMs = 0.0
        /// Waiters that began waiting and have not proceeded (the `waiting` counter).
        var waiting = 0
    }

    public func run(_ parameters: ParameterSet, context: RunContext) async throws -> PatternOutcome {
        let waiters = parameters.int("waiters")
        context.recorder.setTotal(waiters)
        let event = AsyncEvent()
        let tally = Locked(Tally())
        try await withThrowingDiscardingTaskGroup { group in
            for waiter in 0..<waiters {
                group.addTask {
                    try await context.task(waiter, label: "waiter-\(waiter)") {
                        tally.withLock { tally in
                            tally.waiting += 1
                            context.emit("event.waiting", ["waiter": .int(waiter), "waiting": .int(tally.waiting)])
                        }
                        do {
                            try await event.wait()
                        } catch {
                            tally.withLock { tally in
                                tally.waiting -= 1
                                context.emit("event.abandoned", ["waiter": .int(waiter), "waiting": .int(tally.waiting)])
                            }
                            throw error
                        }
                        let now = context.elapsedMs()
                        tally.withLock { tally in
                            if tally.setAtMs == nil { tally.proceededBeforeSet += 1 }
                            tally.proceeded += 1
                            tally.waiting -= 1
                            tally.earliestProceedMs = min(tally.earliestProceedMs, now)
                            tally.latestProceedMs = max(tally.latestProceedMs, now)
                            context.emit(
                                "event.proceeded",
                                ["waiter": .int(waiter), "waiting": .int(tally.waiting), "proceeded": .int(tally.proceeded)])
                        }
                    }
                }
            }
            group.addTask {
                try await context.task(waiters, label: "setter", countsAsProgress: false) {
                    try await context.sleep(ms: parameters.int("set_after_ms"))
                    let now = context.elapsedMs()
                    // `waiting_at_set` is what the event itself held; the counter is the tally's,
                    // announced under its lock like its other changes.
                    tally.withLock { tally in
                        tally.setAtMs = now
                        tally.waitingAtSet = event.waitingCount
                        context.recorder.milestone("event.set", ["waiting": .int(tally.waiting)])
                    }
                    event.set()
                }
            }
        }
        return outcome(tally.value, waiters: waiters)
    }

    private func outcome(_ tally: Tally, waiters: Int) -> PatternOutcome {
        let setAtMs = tally.setAtMs ?? .infinity
        var checks: [Check] = [
            .equal("no_waiter_before_set", observed: tally.proceededBeforeSet, expected: 0),
            .equal("all_waiters_proceeded", observed: tally.proceeded, expected: waiters),
        ]
        if tally.proceeded > 0 {
            checks.append(
                .atLeastMs("first_proceed_after_set", observedMs: tally.earliestProceedMs, minimumMs: setAtMs, "the set"))
        }
        return PatternOutcome(
            result: [
                "waiters": .int(waiters), "proceeded": .int(tally.proceeded), "waiting_at_set": .int(tally.waitingAtSet),
                "set_at_ms": .milliseconds(setAtMs),
                "last_wake_latency_ms": .milliseconds(tally.proceeded > 0 ? tally.latestProceedMs - setAtMs : 0),
            ],
            checks: checks)
    }
}
