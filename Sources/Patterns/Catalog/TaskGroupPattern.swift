import LabJSON

/// task-group: structured concurrency where one child's failure cancels its siblings.
///
/// - Parameters: `count` (1...maxCount) children, each sleeping `delay_ms` (0...maxDelayMs);
///   `fail_index` (-1 for none, else 0..<count) fails after `fail_after_ms` (0...maxDelayMs).
/// - Events: `task.started` per child; `task.failed` for the injected failure;
///   `group.cancelled` when the group cancels the rest; `task.cancelled` / `task.finished`
///   as each child ends (per-task events capped); `progress`.
/// - Cancellation: cancelling the run cancels every child; the run ends `cancelled`.
/// - Checks: the one error the group rethrows is the injected one (`first_error_surfaced`);
///   every sibling still running at the failure ended cancelled and none completed after
///   the group cancelled (`siblings_cancelled_on_failure`); without a failure every child
///   completed (`all_children_completed`); the group returned only after its last child
///   ended (`group_ends_after_all_children`).
///
/// The run's status is `succeeded` even when the injected failure fired: the experiment
/// ran, and the failure is one of its figures. Children count into a shared tally (no
/// per-child objects), so a hundred thousand children cost a few counters.
public struct TaskGroupPattern: Pattern {
    public init() {}

    public let name = "task-group"
    public let title = "Task group: one failure cancels the siblings"
    public let summary = "Runs children in a throwing task group; when one fails, the group cancels every sibling and still waits for all of them to end before the error leaves the group."
    public let asyncioEquivalent = "async with asyncio.TaskGroup() as tg: tg.create_task(...)"
    public let swiftEquivalent = "withThrowingTaskGroup, group.next() rethrows, cancelAll()"
    public let swiftNote = "Cancellation is cooperative: a sibling stops at its next suspension point or cancellation check. A throwing task group rethrows one error (the first); asyncio's TaskGroup raises an ExceptionGroup of all of them."
    public let invariants = [
        "the error the group rethrows is the injected failure",
        "every sibling still running at the failure is cancelled; none completes after the group cancels",
        "the group ends only after all of its children have ended",
    ]
    public let eventNames = ["group.cancelled"]

    public func parameters(limits: PatternLimits) -> [ParameterSpec] {
        [
            .integer("count", default: 5, min: 1, max: limits.maxCount, "How many children the group runs."),
            .integer("delay_ms", default: 200, min: 0, max: limits.maxDelayMs, "How long each healthy child sleeps."),
            .integer("fail_index", default: 2, min: -1, max: limits.maxCount - 1, "The child that fails; -1 for none."),
            .integer("fail_after_ms", default: 50, min: 0, max: limits.maxDelayMs, "When the failing child throws."),
        ]
    }

    public func crossCheck(_ parameters: ParameterSet) -> [FieldIssue] {
        let count = parameters.int("count")
        guard parameters.int("fail_index") < count else {
            return [FieldIssue(field: "fail_index", message: "must be -1 (no failure) or less than count (\(count))")]
        }
        return []
    }

    public func plannedDuration(_ parameters: ParameterSet) -> Duration {
        let failing = parameters.int("fail_index") >= 0
        return .milliseconds(max(parameters.int("delay_ms"), failing ? parameters.int("fail_after_ms") : 0))
    }

    /// What the children did, counted as they end.
    struct Tally {
        var completed = 0
        var cancelled = 0
        var completedAfterCancel = 0
        var lastChildEndMs = 0.0
        var cancelRequested = false
        var failureAtMs: Double?
    }

    public func run(_ parameters: ParameterSet, context: RunContext) async throws -> PatternOutcome {
        let count = parameters.int("count")
        let failIndex = parameters.int("fail_index")
        context.recorder.setTotal(count)
        let tally = Locked(Tally())
        var surfaced: InjectedFailure?
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<count {
                    group.addTask { try await child(index, parameters, context, tally) }
                }
                do {
                    while try await group.next() != nil {}
                } catch {
                    // Deciding and cancelling under the tally's lock splits the siblings
                    // exactly: one that completes after this sees itself cancelled.
                    tally.withLock { tally in
                        tally.cancelRequested = true
                        group.cancelAll()
                    }
                    context.recorder.milestone("group.cancelled", ["cause": .string(String(describing: error))])
                    throw error
                }
            }
        } catch let failure as InjectedFailure {
            surfaced = failure
        }
        let groupEndMs = context.elapsedMs()
        return outcome(tally.value, surfaced: surfaced, count: count, failIndex: failIndex, groupEndMs: groupEndMs)
    }

    private func child(
        _ index: Int, _ parameters: ParameterSet, _ context: RunContext, _ tally: Locked<Tally>
    ) async throws {
        defer {
            let now = context.elapsedMs()
            tally.withLock { $0.lastChildEndMs = max($0.lastChildEndMs, now) }
        }
        do {
            try await context.task(index) {
                if index == parameters.int("fail_index") {
                    try await context.sleep(ms: parameters.int("fail_after_ms"))
                    let now = context.elapsedMs()
                    tally.withLock { $0.failureAtMs = now }
                    throw InjectedFailure(task: index)
                }
                try await context.sleep(ms: parameters.int("delay_ms"))
                try tally.withLock { tally in
                    // The child's last cancellation check, atomic with the group's decision.
                    if Task.isCancelled { throw CancellationError() }
                    if tally.cancelRequested { tally.completedAfterCancel += 1 }
                    tally.completed += 1
                }
            }
        } catch is CancellationError {
            tally.withLock { $0.cancelled += 1 }
            throw CancellationError()
        }
    }

    private func outcome(
        _ tally: Tally, surfaced: InjectedFailure?, count: Int, failIndex: Int, groupEndMs: Double
    ) -> PatternOutcome {
        var checks: [Check] = []
        if let surfaced {
            let stillRunning = count - 1 - (tally.completed - tally.completedAfterCancel)
            checks.append(
                Check(
                    name: "first_error_surfaced", expected: "injected failure in task \(failIndex)",
                    observed: .string(surfaced.description), passed: surfaced.task == failIndex))
            checks.append(
                Check(
                    name: "siblings_cancelled_on_failure",
                    expected: "== \(stillRunning) cancelled (the siblings still running), 0 completed after the cancel",
                    observed: .int(tally.cancelled),
                    passed: tally.cancelled == stillRunning && tally.completedAfterCancel == 0))
        } else {
            checks.append(.equal("all_children_completed", observed: tally.completed, expected: count))
        }
        checks.append(
            .atLeastMs(
                "group_ends_after_all_children", observedMs: groupEndMs, minimumMs: tally.lastChildEndMs,
                "the last child's end"))
        var result: [String: JSONValue] = [
            "count": .int(count), "completed": .int(tally.completed), "cancelled": .int(tally.cancelled),
            "completed_after_cancel": .int(tally.completedAfterCancel),
            "group_end_ms": .milliseconds(groupEndMs), "last_child_end_ms": .milliseconds(tally.lastChildEndMs),
            "error": surfaced.map { .string($0.description) } ?? .null,
        ]
        result["failure_at_ms"] = tally.failureAtMs.map(JSONValue.milliseconds) ?? .null
        return PatternOutcome(result: result, checks: checks)
    }
}
