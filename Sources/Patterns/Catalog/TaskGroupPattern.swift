import LabJSON

/// task-group: structured concurrency where one child's failure cancels its siblings, and
/// every failure that happened before the cancellation reached the others is collected.
///
/// - Parameters: `count` (1...maxCount) children, each sleeping `delay_ms` (0...maxDelayMs);
///   `fail_index` (-1 for none, else 0..<count) fails after `fail_after_ms`
///   (0...maxDelayMs); or `fail_indices` (up to 1,000 distinct children, replacing
///   fail_index), each failing at `fail_after_ms` or at its own time from `fail_at_ms` (a list
///   as long as fail_indices).
/// - Events: `task.started` per child; `task.failed` per failure; `group.cancelled` when the
///   group cancels the rest; `group.error_collected` per failure the group collects (the
///   failing child, `errors_collected` so far); `task.cancelled` / `task.finished` as each
///   child ends (per-task events capped); `progress`.
/// - Cancellation: cancelling the run cancels every child; the run ends `cancelled`.
/// - Checks: the first error (the one a Swift group rethrows) is a failure at the earliest
///   failure time (`first_error_surfaced`); every failure a child raised was collected, as
///   asyncio's ExceptionGroup holds them all (`all_failures_collected`); every sibling still
///   running at the failure ended cancelled and none completed after the group cancelled
///   (`siblings_cancelled_on_failure`); without a failure every child completed
///   (`all_children_completed`); the group returned only after its last child ended
///   (`group_ends_after_all_children`).
///
/// Children failing at the same instant are all past their last suspension point when the
/// cancellation comes, so they fail rather than being cancelled: that is what the
/// ExceptionGroup shows. A child due to fail later is cancelled first and never fails.
/// The run's status is `succeeded` even when failures fired: the experiment ran, and the
/// failures are its figures. Children count into a shared tally (no per-child objects).
public struct TaskGroupPattern: Pattern {
    /// Ways to break one guarantee each, so tests can show that its check fails.
    enum Fault: Sendable {
        /// Swift's own behaviour: rethrow the first error, drop the others.
        case rethrowsFirstOnly
        /// The group never cancels the siblings.
        case doesNotCancel
        /// The children are unstructured tasks that nobody awaits.
        case returnsBeforeChildren
        /// The children are awaited one by one in input order (gather's order, not the
        /// group's completion order).
        case awaitsInInputOrder
    }

    let fault: Fault?

    public init() { fault = nil }
    init(fault: Fault?) { self.fault = fault }

    public let name = "task-group"
    public let title = "Task group: one failure cancels the siblings"
    public let summary = "Runs children in a throwing task group; when one fails, the group cancels every sibling, still waits for all of them to end, and collects every failure that happened before the cancellation reached the others."
    public let asyncioEquivalent = "async with asyncio.TaskGroup() as tg: tg.create_task(...) (raises an ExceptionGroup)"
    public let swiftEquivalent = "withThrowingTaskGroup: group.next() rethrows, cancelAll(), then the rest drained"
    public let swiftNote = "Cancellation is cooperative: a sibling stops at its next suspension point or cancellation check. A throwing task group rethrows one error (the first) and discards the rest; asyncio's TaskGroup raises an ExceptionGroup of all of them. Here the group drains its children after the first error and collects every failure, which is what the ExceptionGroup holds."
    public let invariants = [
        "the first error is a failure at the earliest failure time",
        "every failure raised before the cancellation is collected (asyncio's ExceptionGroup)",
        "every sibling still running at the failure is cancelled; none completes after the group cancels",
        "the group ends only after all of its children have ended",
    ]
    public let eventNames = ["group.cancelled", "group.error_collected"]
    public let counters = [CounterSpec("errors_collected", "failures the group collected")]

    public func parameters(limits: PatternLimits) -> [ParameterSpec] {
        [
            .integer("count", default: 5, min: 1, max: limits.maxCount, "How many children the group runs."),
            .integer("delay_ms", default: 200, min: 0, max: limits.maxDelayMs, "How long each healthy child sleeps."),
            .integer("fail_index", default: 2, min: -1, max: limits.maxCount - 1, "The child that fails; -1 for none."),
            .integer("fail_after_ms", default: 50, min: 0, max: limits.maxDelayMs, "When a failing child throws."),
            .integerList(
                "fail_indices", default: nil, min: 0, max: limits.maxCount - 1, maxItems: 1_000,
                "Several children that fail (replaces fail_index)."),
            .integerList(
                "fail_at_ms", default: nil, min: 0, max: limits.maxDelayMs, maxItems: 1_000,
                "When each of fail_indices throws (default: fail_after_ms for all)."),
        ]
    }

    public func crossCheck(_ parameters: ParameterSet) -> [FieldIssue] {
        let count = parameters.int("count")
        guard let indices = parameters.intList("fail_indices") else {
            if parameters.intList("fail_at_ms") != nil {
                return [FieldIssue(field: "fail_at_ms", message: "needs fail_indices")]
            }
            guard parameters.int("fail_index") < count else {
                return [FieldIssue(field: "fail_index", message: "must be -1 (no failure) or less than count (\(count))")]
            }
            return []
        }
        var issues: [FieldIssue] = []
        if indices.contains(where: { $0 >= count }) || Set(indices).count != indices.count {
            issues.append(FieldIssue(field: "fail_indices", message: "must be distinct and each less than count (\(count))"))
        }
        if let times = parameters.intList("fail_at_ms"), times.count != indices.count {
            issues.append(FieldIssue(field: "fail_at_ms", message: "must have one time per fail_indices entry (\(indices.count))"))
        }
        return issues
    }

    public func plannedDuration(_ parameters: ParameterSet) -> Duration {
        .milliseconds(max(parameters.int("delay_ms"), ChildFailurePlan(parameters).latestFailureMs))
    }

    public func run(_ parameters: ParameterSet, context: RunContext) async throws -> PatternOutcome {
        let count = parameters.int("count")
        let plan = ChildFailurePlan(parameters)
        context.recorder.setTotal(count)
        let tally = Locked(GroupTally())
        let start: @Sendable (Int) async throws -> Void = { index in
            try await child(index, plan, parameters.int("delay_ms"), context, tally)
        }
        let collected: [InjectedFailure]
        switch fault {
        case .returnsBeforeChildren?: collected = startUnawaited(count, start, context)
        case .awaitsInInputOrder?: collected = try await awaitInInputOrder(count, start, tally, context)
        default: collected = try await runGroup(count, start, tally, context)
        }
        return outcome(tally.value, collected: collected, count: count, groupEndMs: context.elapsedMs())
    }

    /// The group: children in completion order; the first error cancels the rest.
    private func runGroup(
        _ count: Int, _ start: @escaping @Sendable (Int) async throws -> Void, _ tally: Locked<GroupTally>,
        _ context: RunContext
    ) async throws -> [InjectedFailure] {
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<count { group.addTask { try await start(index) } }
                do {
                    while try await group.next() != nil {}
                } catch let failure as InjectedFailure {
                    // Only a child's own failure: the run's cancellation ends the run.
                    throw await collectFailures(after: failure, in: &group, tally, context)
                }
            }
        } catch let failures as CollectedFailures {
            return failures.errors
        }
        return []
    }

    /// After the first error: cancel the siblings (the decision is taken under the tally's
    /// lock, which splits them exactly: one that completes after it sees itself cancelled),
    /// then drain the group, collecting every failure as asyncio's ExceptionGroup does.
    private func collectFailures(
        after first: any Error, in group: inout ThrowingTaskGroup<Void, any Error>, _ tally: Locked<GroupTally>,
        _ context: RunContext
    ) async -> CollectedFailures {
        tally.withLock { tally in
            tally.cancelRequested = true
            if fault != .doesNotCancel { group.cancelAll() }
        }
        context.recorder.milestone("group.cancelled", ["cause": .string(String(describing: first))])
        var errors: [InjectedFailure] = []
        func collect(_ error: any Error) {
            guard let failure = error as? InjectedFailure else { return }
            errors.append(failure)
            context.recorder.milestone(
                "group.error_collected", ["task": .int(failure.task), "errors_collected": .int(errors.count)])
        }
        collect(first)
        guard fault != .rethrowsFirstOnly else { return CollectedFailures(errors: errors) }
        while true {
            do {
                guard try await group.next() != nil else { break }
            } catch {
                collect(error)
            }
        }
        return CollectedFailures(errors: errors)
    }

    private func child(
        _ index: Int, _ plan: ChildFailurePlan, _ delayMs: Int, _ context: RunContext, _ tally: Locked<GroupTally>
    ) async throws {
        defer {
            let now = context.elapsedMs()
            tally.withLock { tally in
                tally.ended += 1
                tally.lastChildEndMs = max(tally.lastChildEndMs, now)
            }
        }
        do {
            try await context.task(index) {
                if let failAtMs = plan.failureTime(of: index) {
                    try await context.sleep(ms: failAtMs)
                    let now = context.elapsedMs()
                    tally.withLock { $0.failures.append((index, now)) }
                    throw InjectedFailure(task: index)
                }
                try await context.sleep(ms: delayMs)
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
}

/// Every failure a group collected, the first one first (asyncio's ExceptionGroup).
struct CollectedFailures: Error {
    let errors: [InjectedFailure]
}
