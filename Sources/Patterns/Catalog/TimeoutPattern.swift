/// timeout: bound an operation by a time limit, cancelling it when the limit passes.
///
/// - Parameters: `operation_ms` (0...maxDelayMs), how long the operation takes;
///   `timeout_ms` (0...maxDelayMs, not equal to `operation_ms`: equal deadlines race);
///   `style`: `wait_for` (a relative timeout around one await) or `deadline` (an absolute
///   deadline covering a block of awaits: the operation runs as two halves under it).
/// - Events: `task.started` (the operation, task 0); `operation.step` per half in deadline
///   style; then either `operation.completed`, or `timeout.expired` followed by the
///   operation's `task.timeout` (it was cancelled by the timeout); `task.finished`.
/// - Cancellation: cancelling the run cancels the operation and the timer; run `cancelled`.
/// - Checks: timed out iff operation > timeout; when timed out, elapsed >= timeout and the
///   operation saw cancellation; when not, elapsed >= operation and its value came back.
public struct TimeoutPattern: Pattern {
    public init() {}

    public let name = "timeout"
    public let title = "Timeout: bound a wait, cancel what overran"
    public let summary = "Races an operation against the clock. If the time limit passes first, the operation is cancelled, awaited until it has actually stopped, and a timeout error surfaces."
    public let asyncioEquivalent = "asyncio.wait_for(op, timeout) / async with asyncio.timeout(delay)"
    public let swiftEquivalent = "a task group racing the operation against a clock sleep; the loser is cancelled"
    public let swiftNote = "Swift has no built-in timeout: it is a race of two child tasks. Cancellation is cooperative, so the timeout takes effect when the operation reaches a suspension point; like wait_for, the call returns only after the cancelled operation has ended."
    public let invariants = [
        "times out iff operation_ms > timeout_ms",
        "when timed out: elapsed >= timeout_ms, and the operation saw cancellation",
        "when not: elapsed >= operation_ms, and the operation's value came back",
    ]
    public let eventNames = ["operation.step", "operation.completed", "timeout.expired"]

    public func parameters(limits: PatternLimits) -> [ParameterSpec] {
        [
            .integer("operation_ms", default: 200, min: 0, max: limits.maxDelayMs, "How long the operation takes."),
            .integer("timeout_ms", default: 100, min: 0, max: limits.maxDelayMs, "The time limit."),
            .choice(
                "style", default: "wait_for", choices: ["wait_for", "deadline"],
                "wait_for: a timeout around one await; deadline: one absolute deadline over a block of awaits."),
        ]
    }

    public func crossCheck(_ parameters: ParameterSet) -> [FieldIssue] {
        guard parameters.int("operation_ms") != parameters.int("timeout_ms") else {
            return [FieldIssue(field: "timeout_ms", message: "must differ from operation_ms: equal deadlines race")]
        }
        return []
    }

    public func plannedDuration(_ parameters: ParameterSet) -> Duration {
        .milliseconds(min(parameters.int("operation_ms"), parameters.int("timeout_ms")))
    }

    public func run(_ parameters: ParameterSet, context: RunContext) async throws -> PatternOutcome {
        let operationMs = parameters.int("operation_ms")
        let timeoutMs = parameters.int("timeout_ms")
        let style = parameters.string("style")
        context.recorder.setTotal(1)
        let sawCancellation = Locked(false)
        let deadline = context.clock.now() + .milliseconds(timeoutMs)
        let startMs = context.elapsedMs()
        let operation: @Sendable () async throws -> Int = {
            try await context.task(0, label: "operation") {
                do {
                    try await perform(operationMs, style: style, context: context)
                    return operationMs
                } catch is CancellationError {
                    sawCancellation.withLock { $0 = true }
                    // Cancelled because the deadline passed: the span says timeout.
                    if context.clock.now() >= deadline { throw PatternTimeoutError(afterMs: context.elapsedMs() - startMs) }
                    throw CancellationError()
                }
            }
        }
        var value: Int?
        do {
            value = try await style == "deadline"
                ? context.clock.withDeadline(deadline, operation: operation)
                : context.clock.withTimeout(.milliseconds(timeoutMs), operation: operation)
            context.emit("operation.completed", ["value": .int(operationMs)])
        } catch let timeout as PatternTimeoutError {
            context.emit("timeout.expired", ["after_ms": .milliseconds(timeout.afterMs)])
        }
        let elapsedMs = context.elapsedMs() - startMs
        return outcome(
            operationMs: operationMs, timeoutMs: timeoutMs, value: value, elapsedMs: elapsedMs,
            sawCancellation: sawCancellation.value, style: style)
    }

    /// The operation: one sleep (wait_for), or two halves under one deadline.
    private func perform(_ operationMs: Int, style: String, context: RunContext) async throws {
        guard style == "deadline" else { return try await context.sleep(ms: operationMs) }
        let firstHalf = operationMs / 2
        try await context.sleep(ms: firstHalf)
        context.emit("operation.step", ["step": 1])
        try await context.sleep(ms: operationMs - firstHalf)
        context.emit("operation.step", ["step": 2])
    }

    private func outcome(
        operationMs: Int, timeoutMs: Int, value: Int?, elapsedMs: Double, sawCancellation: Bool, style: String
    ) -> PatternOutcome {
        let timedOut = value == nil
        let shouldTimeOut = operationMs > timeoutMs
        var checks = [
            Check(
                name: "timed_out_iff_operation_exceeds_timeout",
                expected: shouldTimeOut ? "timed out (\(operationMs) > \(timeoutMs))" : "completed (\(operationMs) < \(timeoutMs))",
                observed: .bool(timedOut), passed: timedOut == shouldTimeOut)
        ]
        if timedOut {
            checks.append(.atLeastMs("elapsed_at_least_timeout", observedMs: elapsedMs, minimumMs: Double(timeoutMs)))
            checks.append(.isTrue("operation_saw_cancellation", sawCancellation))
        } else {
            checks.append(.atLeastMs("elapsed_at_least_operation", observedMs: elapsedMs, minimumMs: Double(operationMs)))
            checks.append(.equal("operation_value_returned", observed: value ?? -1, expected: operationMs))
        }
        return PatternOutcome(
            result: [
                "style": .string(style), "timed_out": .bool(timedOut), "elapsed_ms": .milliseconds(elapsedMs),
                "operation_ms": .int(operationMs), "timeout_ms": .int(timeoutMs),
                "operation_saw_cancellation": .bool(sawCancellation),
            ],
            checks: checks)
    }
}
