/// wait: asyncio.wait over tasks, returning (done, pending) by its return_when rule or a
/// timeout, without cancelling what is pending unless asked.
///
/// - Parameters: `delays_ms` (1 to 1,000 tasks, each 0...maxDelayMs); `fail_indices` (the
///   tasks that raise at their delay instead of returning); `return_when`:
///   `FIRST_COMPLETED` (any task done, raised or returned), `FIRST_EXCEPTION` (any task
///   raised, else all done), `ALL_COMPLETED`; `timeout_ms` (optional): return then with what
///   is done, without raising; `cancel_pending`: cancel what is pending once wait returned
///   (asyncio.wait itself never does).
/// - Events: `task.started` per task and for the caller (`wait`, the last task id);
///   `wait.task_done` as each task ends (task, outcome, `tasks_done`); `wait.returned` (done,
///   pending, why); then the pending ones run on (or, with `cancel_pending`, are cancelled:
///   `task.cancelled`).
/// - Cancellation: cancelling the run cancels the caller and every task; run `cancelled`.
/// - Checks: done and pending are what asyncio returns for the tasks' observed ends (done:
///   every task that had ended when the rule was met or the timeout passed; tasks ending
///   within 1 ms of that instant may fall either way); what was pending was not cancelled
///   (each ended by itself afterwards), or with `cancel_pending`, all of it was; with a
///   timeout, wait returned at the timeout only if the rule was not met by then.
public struct WaitPattern: Pattern {
    /// Ways to break one guarantee each, so tests can show that its check fails.
    enum Fault: Sendable {
        /// The caller waits for every task, whatever return_when says.
        case returnsAfterAll
        /// What is pending is cancelled although nobody asked.
        case cancelsPending
        /// The timeout fires at half its time.
        case timeoutFiresEarly
        /// cancel_pending is not acted on.
        case ignoresCancelPending
    }

    static let rules = ["FIRST_COMPLETED", "FIRST_EXCEPTION", "ALL_COMPLETED"]

    let fault: Fault?

    public init() { fault = nil }
    init(fault: Fault?) { self.fault = fault }

    public let name = "wait"
    public let title = "Wait: done and pending, by a rule or a timeout"
    public let summary = "Waits on several tasks until the first completes, the first raises, or all complete (or a timeout passes), and returns which are done and which are pending; the pending ones keep running unless the caller cancels them."
    public let asyncioEquivalent = "done, pending = await asyncio.wait(tasks, timeout=..., return_when=FIRST_COMPLETED | FIRST_EXCEPTION | ALL_COMPLETED)"
    public let swiftEquivalent = "children of a task group report their ends; the caller waits for the rule (or a deadline) on a signal, then reads done/pending"
    public let swiftNote = "Swift has no asyncio.wait. group.next() gives one result at a time and cannot be raced against a clock, so the children record their ends and signal the caller when the rule is met; the caller waits on that signal with a deadline. asyncio.wait leaves pending tasks running and unawaited; a task group cannot leave them behind: they run on to their end (or their cancellation) before the scope closes."
    public let invariants = [
        "done and pending are what asyncio.wait returns for the tasks' ends",
        "pending tasks are not cancelled unless asked (with cancel_pending, all of them are)",
        "with a timeout: wait returns at the timeout only if the rule was not met by then",
    ]
    public let eventNames = ["wait.task_done", "wait.returned"]
    public let counters = [CounterSpec("tasks_done", "tasks done")]

    public func parameters(limits: PatternLimits) -> [ParameterSpec] {
        [
            .integerList(
                "delays_ms", default: [300, 100, 200, 400], min: 0, max: limits.maxDelayMs,
                maxItems: min(1_000, limits.maxCount), "Each task's delay."),
            .integerList(
                "fail_indices", default: nil, min: 0, max: min(1_000, limits.maxCount) - 1, maxItems: 1_000,
                "The tasks that raise at their delay."),
            .choice("return_when", default: "FIRST_COMPLETED", choices: Self.rules, "When wait returns."),
            ParameterSpec(
                name: "timeout_ms", kind: .integer, defaultValue: nil, minimum: 0, maximum: limits.maxDelayMs,
                description: "Return then with what is done (no error); none by default."),
            .boolean("cancel_pending", default: false, "Cancel the pending tasks once wait returned."),
        ]
    }

    public func crossCheck(_ parameters: ParameterSet) -> [FieldIssue] {
        let count = parameters.intList("delays_ms")?.count ?? 0
        guard let failing = parameters.intList("fail_indices"), failing.contains(where: { $0 >= count }) else { return [] }
        return [FieldIssue(field: "fail_indices", message: "every index must be less than the number of delays (\(count))")]
    }

    public func plannedDuration(_ parameters: ParameterSet) -> Duration {
        .milliseconds(parameters.intList("delays_ms")?.max() ?? 0)
    }

    public func run(_ parameters: ParameterSet, context: RunContext) async throws -> PatternOutcome {
        let setup = WaitSetup(parameters)
        context.recorder.setTotal(setup.count)
        let state = Locked(WaitState(count: setup.count))
        let ruleMet = AsyncEvent()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<setup.count {
                group.addTask { await runTask(index, setup, state, ruleMet, context) }
            }
            try await context.task(setup.count, label: "wait", countsAsProgress: false) {
                try await waitForRule(setup, state, ruleMet, context)
            }
            if (setup.cancelPending && fault != .ignoresCancelPending) || fault == .cancelsPending { group.cancelAll() }
            try await group.waitForAll()
        }
        return outcome(setup, state.value)
    }
}
