/// shield: an outer wait is cancelled (or times out) while the shielded operation goes on,
/// completes, and hands its result to whoever kept it.
///
/// - Parameters: `operation_ms` (1...maxDelayMs), how long the inner operation takes;
///   `cancel_after_ms` (0...maxDelayMs, less than operation_ms), when the outer wait ends;
///   `how`: `cancel` (the waiting task is cancelled) or `timeout` (`wait_for(shield(inner),
///   timeout)` times out); `shield`: false runs the operation inside the outer wait, as
///   without `asyncio.shield`, to show what the shield prevents.
/// - Events: `shield.inner_started` (`inner_running`); `task.started` for the inner (task
///   0), the outer wait (task 1) and the keeper (task 2), each waiter with
///   `shield.waiting` (`awaiting`); at the cancel time `shield.outer_cancelled` and the
///   outer's `task.cancelled` / `task.timeout`; then `shield.inner_completed` (or, unshielded,
///   `shield.inner_cancelled` at the cancel time); then `shield.result_delivered` to the
///   keeper (or `shield.result_lost`).
/// - Cancellation: cancelling the run cancels all three (a shield protects the operation from
///   its waiter's cancellation, not from the run's end); the run ends `cancelled`.
/// - Checks, shielded: the inner operation completed; the outer wait ended at the cancel
///   time, before the inner completed; the keeper received the inner's result. Unshielded:
///   the inner was cancelled with the outer; the outer ended at the cancel time; the keeper
///   received nothing.
public struct ShieldPattern: Pattern {
    /// Ways to break one guarantee each, so tests can show that its check fails.
    enum Fault: Sendable {
        /// The operation runs inside the outer wait although shielded.
        case innerInsideOuter
        /// The outer wait ignores its cancellation and waits for the inner.
        case outerWaitsForInner
        /// The inner's result never reaches the keeper.
        case resultLost
        /// The operation is shielded even when the run asks for no shield.
        case alwaysShields
    }

    let fault: Fault?

    public init() { fault = nil }
    init(fault: Fault?) { self.fault = fault }

    public let name = "shield"
    public let title = "Shield: the waiter gives up, the operation goes on"
    public let summary = "An operation runs while a caller waits for it; the caller's wait is cancelled or times out, yet the shielded operation keeps running, completes, and its result still reaches whoever kept hold of it."
    public let asyncioEquivalent = "await asyncio.wait_for(asyncio.shield(inner), timeout); later: await inner"
    public let swiftEquivalent = "the operation as a sibling task in the group (not a child of the waiter), its result awaited through a one-shot signal"
    public let swiftNote = "Swift has no shield: a child task is cancelled with its parent. The shield is to not make the operation a child of the waiting task: here it is a sibling in the run's task group, so cancelling the waiter does not reach it (an unstructured Task would too, but could outlive the scope). The waiter awaits the result through a signal it can leave when cancelled. Cancelling the whole run still cancels the operation: a shield protects against the waiter's cancellation, as asyncio's does, not against the loop shutting down."
    public let invariants = [
        "shielded: the inner operation completes",
        "the outer wait ends at the cancel time, before the inner completes",
        "shielded: the result still reaches the task that kept the inner; unshielded: the inner is cancelled with the outer",
    ]
    public let eventNames = [
        "shield.inner_started", "shield.waiting", "shield.outer_cancelled", "shield.inner_completed",
        "shield.inner_cancelled", "shield.result_delivered", "shield.result_lost",
    ]
    public let counters = [
        CounterSpec("inner_running", "inner operations running"),
        CounterSpec("awaiting", "tasks awaiting the inner's result"),
    ]

    public func parameters(limits: PatternLimits) -> [ParameterSpec] {
        [
            .integer("operation_ms", default: 300, min: 1, max: limits.maxDelayMs, "How long the inner operation takes."),
            .integer("cancel_after_ms", default: 100, min: 0, max: limits.maxDelayMs, "When the outer wait is cancelled or times out."),
            .choice(
                "how", default: "cancel", choices: ["cancel", "timeout"],
                "cancel: the waiting task is cancelled; timeout: wait_for(shield(inner), cancel_after_ms) times out."),
            .boolean("shield", default: true, "Shield the operation; false shows it cancelled with its waiter."),
        ]
    }

    public func crossCheck(_ parameters: ParameterSet) -> [FieldIssue] {
        guard parameters.int("cancel_after_ms") < parameters.int("operation_ms") else {
            return [FieldIssue(field: "cancel_after_ms", message: "must be less than operation_ms: the wait must end while the operation runs")]
        }
        return []
    }

    public func plannedDuration(_ parameters: ParameterSet) -> Duration {
        .milliseconds(parameters.int("operation_ms"))
    }

    public func run(_ parameters: ParameterSet, context: RunContext) async throws -> PatternOutcome {
        let setup = ShieldSetup(parameters, fault: fault)
        context.recorder.setTotal(3)
        let inner = InnerOperation()
        let log = Locked(ShieldLog())
        try await withThrowingTaskGroup(of: Void.self) { group in
            if setup.innerIsSibling {
                group.addTask { try await runInner(setup, inner, log, context) }
            }
            group.addTask { try await waitAsOuter(setup, inner, log, context) }
            group.addTask { try await waitAsKeeper(setup, inner, log, context) }
            try await group.waitForAll()
        }
        return outcome(setup, log.value)
    }
}
