/// timeout: bound an operation by a time limit, cancelling it when the limit passes; nested
/// limits, and a deadline moved while the operation runs.
///
/// - Parameters: `operation_ms` (0...maxDelayMs), how long the operation takes;
///   `timeout_ms` (0...maxDelayMs), the limit; `style`: `wait_for` (a timeout around one
///   await) or `deadline` (`async with asyncio.timeout()` over a block of awaits: the
///   operation runs as two halves under it); `inner_timeout_ms` (optional): a second
///   timeout nested inside the first, around the operation; `reschedule_at_ms` and
///   `reschedule_to_ms` (optional, together, `deadline` style): at that time the operation
///   moves the outer deadline to the new time (`cm.reschedule`), both measured from the
///   start. Equal deadlines race, so operation and the deadlines in effect must differ.
/// - Events: `timeout.armed` per scope (`deadline_ms`, `inner_deadline_ms`); `task.started`
///   (the operation, task 0); `operation.step` per half in deadline style;
///   `timeout.rescheduled` (`deadline_ms`); then either `operation.completed`, or the
///   operation's `task.timeout` (it was cancelled by a timeout) and `timeout.expired` naming
///   the scope that fired; `task.finished`.
/// - Cancellation: cancelling the run cancels the operation and the timers; run `cancelled`.
/// - Checks: timed out iff operation > the earliest deadline in effect; when timed out,
///   elapsed >= that deadline and the operation saw cancellation; when not, elapsed >=
///   operation and its value came back. Nested: the scope with the earlier deadline fired,
///   and the expiry left the outer scope as the scope's that fired (an inner expiry is not
///   claimed by the outer, which is not marked expired).
public struct TimeoutPattern: Pattern {
    /// Ways to break one guarantee each, so tests can show that its check fails.
    enum Fault: Sendable {
        case ignoresReschedule
        /// The outer scope turns an inner expiry into its own.
        case outerClaimsInnerExpiry
        /// The timer fires at half the deadline.
        case timerFiresEarly
        /// The operation swallows its cancellation and runs to the end.
        case operationIgnoresCancellation
        /// Each scope gets the other's deadline.
        case deadlinesSwapped
        /// The operation returns halfway, with the time it ran as its value.
        case returnsEarly
    }

    let fault: Fault?

    public init() { fault = nil }
    init(fault: Fault?) { self.fault = fault }

    public let name = "timeout"
    public let title = "Timeout: bound a wait, cancel what overran"
    public let summary = "Races an operation against the clock. If the time limit passes first, the operation is cancelled, awaited until it has actually stopped, and a timeout error surfaces. Timeouts nest (the earlier fires, and the outer lets the inner's expiry through as the inner's), and a deadline can be moved while the operation runs."
    public let asyncioEquivalent = "asyncio.wait_for(op, timeout) / async with asyncio.timeout(delay) as cm: cm.reschedule(when)"
    public let swiftEquivalent = "TimeoutScope: a task group racing the operation against a clock sleep that follows the deadline; the loser is cancelled"
    public let swiftNote = "Swift has no built-in timeout: it is a race of two child tasks. Cancellation is cooperative, so the timeout takes effect when the operation reaches a suspension point; like wait_for, the call returns only after the cancelled operation has ended. A moved deadline wakes the timer, which sleeps again toward the new one. Each expiry is an error naming its own scope, as asyncio's outer timeout re-raises an inner TimeoutError it did not cause."
    public let invariants = [
        "times out iff operation_ms > the earliest deadline in effect",
        "when timed out: elapsed >= that deadline, and the operation saw cancellation",
        "when not: elapsed >= operation_ms, and the operation's value came back",
        "nested: the earlier deadline fires, and its expiry stays its own through the outer scope",
    ]
    public let eventNames = ["timeout.armed", "operation.step", "timeout.rescheduled", "operation.completed", "timeout.expired"]
    /// The outer deadline only: the inner one is never moved, and a nested timeout is
    /// optional, so a counter of it would be carried by no event in most runs.
    public let counters = [CounterSpec("deadline_ms", "the timeout's deadline")]

    public func parameters(limits: PatternLimits) -> [ParameterSpec] {
        let optional = { (name: String, description: String) in
            ParameterSpec(
                name: name, kind: .integer, defaultValue: nil, minimum: 0, maximum: limits.maxDelayMs, description: description)
        }
        return [
            .integer("operation_ms", default: 200, min: 0, max: limits.maxDelayMs, "How long the operation takes."),
            .integer("timeout_ms", default: 100, min: 0, max: limits.maxDelayMs, "The time limit."),
            .choice(
                "style", default: "wait_for", choices: ["wait_for", "deadline"],
                "wait_for: a timeout around one await; deadline: one absolute deadline over a block of awaits."),
            optional("inner_timeout_ms", "A second timeout nested inside the first, around the operation."),
            optional("reschedule_at_ms", "When the operation moves the deadline (deadline style; with reschedule_to_ms)."),
            optional("reschedule_to_ms", "The deadline it moves to, from the start (with reschedule_at_ms)."),
        ]
    }

    public func crossCheck(_ parameters: ParameterSet) -> [FieldIssue] {
        TimeoutPlan(parameters).issues
    }

    public func plannedDuration(_ parameters: ParameterSet) -> Duration {
        let plan = TimeoutPlan(parameters)
        return .milliseconds(min(plan.operationMs, plan.firstDeadlineMs))
    }

    public func run(_ parameters: ParameterSet, context: RunContext) async throws -> PatternOutcome {
        let plan = TimeoutPlan(parameters)
        context.recorder.setTotal(1)
        let start = context.clock.now()
        let startMs = context.elapsedMs()
        let swap = fault == .deadlinesSwapped && plan.innerMs != nil
        let outerMs = swap ? plan.innerMs! : plan.timeoutMs
        let outer = TimeoutScope(name: "outer", deadline: start + .milliseconds(fault == .timerFiresEarly ? outerMs / 2 : outerMs))
        let inner = plan.innerMs.map { TimeoutScope(name: "inner", deadline: start + .milliseconds(swap ? plan.timeoutMs : $0)) }
        context.recorder.milestone("timeout.armed", ["scope": "outer", "deadline_ms": .int(plan.timeoutMs)])
        if let innerMs = plan.innerMs {
            context.recorder.milestone("timeout.armed", ["scope": "inner", "inner_deadline_ms": .int(innerMs)])
        }
        let sawCancellation = Locked(false)
        let operation: @Sendable () async throws -> Int = {
            try await context.task(0, label: "operation") {
                do {
                    if fault == .returnsEarly {
                        try await context.sleep(ms: plan.operationMs / 2)
                        return plan.operationMs / 2
                    }
                    try await perform(plan, from: start, outer: outer, context: context)
                    return plan.operationMs
                } catch is CancellationError {
                    sawCancellation.withLock { $0 = true }
                    // Cancelled because a deadline passed: the span says timeout.
                    if outer.expired || inner?.expired == true {
                        throw PatternTimeoutError(afterMs: context.elapsedMs() - startMs)
                    }
                    throw CancellationError()
                }
            }
        }
        var value: Int?
        var surfaced: TimeoutScopeExpired?
        do {
            value = try await outer.run(on: context.clock) { try await runInner(inner, operation, context) }
            context.emit("operation.completed", ["value": .int(value ?? 0)])
        } catch let expired as TimeoutScopeExpired {
            surfaced = expired
            context.emit("timeout.expired", ["scope": .string(expired.scope), "after_ms": .milliseconds(expired.afterMs)])
        }
        let observed = TimeoutObservation(
            value: value, surfaced: surfaced, elapsedMs: context.elapsedMs() - startMs,
            sawCancellation: sawCancellation.value, outerExpired: outer.expired, innerExpired: inner?.expired)
        return outcome(plan, observed)
    }

    /// The operation inside the inner scope, if there is one.
    private func runInner(
        _ inner: TimeoutScope?, _ operation: @escaping @Sendable () async throws -> Int, _ context: RunContext
    ) async throws -> Int {
        guard let inner else { return try await operation() }
        do {
            return try await inner.run(on: context.clock, operation)
        } catch let expired as TimeoutScopeExpired where fault == .outerClaimsInnerExpiry {
            throw TimeoutScopeExpired(scope: "outer", afterMs: expired.afterMs)
        }
    }
}
