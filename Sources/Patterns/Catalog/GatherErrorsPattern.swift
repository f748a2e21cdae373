import LabJSON

/// gather-errors: what gather does when some of its tasks fail.
///
/// - Parameters: `count` (1...maxCount) tasks of `delay_ms` (0...maxDelayMs); the failing
///   ones, which throw at half the delay, are `fail_indices` (up to 1,000 indices below
///   `count`), or else each with probability `failure_rate` percent drawn from `seed`, or
///   else the middle task; `return_exceptions` (default true).
/// - Events: `task.started` per task; `task.failed` per injected failure; with
///   `return_exceptions` false, `gather.error_surfaced` then `task.cancelled` for the
///   tasks it cancelled; `task.finished` per success; `gather.result` as each task's
///   outcome is counted (per-task events capped); `progress`.
/// - Counters: `succeeded`, `failures` and `cancelled`, on `gather.result`, each ending at
///   the figure of its name.
/// - Cancellation: cancelling the run cancels every task; the run ends `cancelled`.
/// - Checks with `return_exceptions`: N results, each failure in its own slot, nothing
///   cancelled. Without: the error that surfaces is the first failure, and every task
///   still running then was cancelled and had ended before the call returned.
public struct GatherErrorsPattern: Pattern {
    public init() {}

    public let name = "gather-errors"
    public let title = "Gather with errors: results in place, or the first error"
    public let summary = "Gathers tasks some of which fail. Collecting each outcome as a Result gives N results with the failures in place and lets every task finish; without that, the first failure surfaces and the rest are cancelled."
    public let asyncioEquivalent = "asyncio.gather(*coros, return_exceptions=True)"
    public let swiftEquivalent = "a task group of Result values; without them, withThrowingTaskGroup"
    public let swiftNote = "asyncio.gather without return_exceptions propagates the first exception but does not cancel the other awaitables: they keep running, unawaited. A Swift task group cannot leave children behind: the first error cancels the rest, and the group waits for them to end before it rethrows."
    public let invariants = [
        "with return_exceptions: N results, failures in place, nothing cancelled",
        "without: the first failure surfaces; every task still running is cancelled and ends before the call returns",
    ]
    public let eventNames = ["gather.error_surfaced", "gather.result"]
    public let counters = [
        CounterSpec("succeeded", "tasks succeeded"), CounterSpec("failures", "tasks failed"),
        CounterSpec("cancelled", "tasks cancelled"),
    ]

    public func parameters(limits: PatternLimits) -> [ParameterSpec] {
        [
            .integer("count", default: 6, min: 1, max: limits.maxCount, "How many tasks to gather."),
            .integer("delay_ms", default: 100, min: 0, max: limits.maxDelayMs, "How long a task takes; a failing one throws at half of it."),
            .integerList(
                "fail_indices", default: nil, min: 0, max: limits.maxCount - 1, maxItems: 1_000,
                "The tasks that fail. Default: drawn by failure_rate, or else the middle task."),
            ParameterSpec(
                name: "failure_rate", kind: .integer, defaultValue: nil, minimum: 0, maximum: 100,
                description: "Percent chance that each task fails, drawn from seed (instead of fail_indices)."),
            .integer("seed", default: 42, min: 0, max: Int(Int32.max), "Seed for failure_rate."),
            .boolean("return_exceptions", default: true, "Collect failures as results instead of surfacing the first."),
        ]
    }

    public func crossCheck(_ parameters: ParameterSet) -> [FieldIssue] {
        let count = parameters.int("count")
        var issues: [FieldIssue] = []
        if let indices = parameters.intList("fail_indices") {
            if indices.contains(where: { $0 >= count }) {
                issues.append(FieldIssue(field: "fail_indices", message: "every index must be less than count (\(count))"))
            }
            if parameters.optionalInt("failure_rate") != nil {
                issues.append(FieldIssue(field: "failure_rate", message: "give fail_indices or failure_rate, not both"))
            }
        }
        return issues
    }

    public func plannedDuration(_ parameters: ParameterSet) -> Duration {
        .milliseconds(parameters.int("delay_ms"))
    }

    public func run(_ parameters: ParameterSet, context: RunContext) async throws -> PatternOutcome {
        let plan = FailurePlan(parameters)
        context.recorder.setTotal(plan.count)
        if parameters.bool("return_exceptions") {
            return try await gatherResults(plan, context)
        }
        return try await gatherFirstError(plan, context)
    }

    /// One task: succeeds after the delay, or throws its injected failure at half of it.
    private func work(_ index: Int, _ plan: FailurePlan, _ context: RunContext) async throws {
        try await context.task(index) {
            guard plan.fails(index) else { return try await context.sleep(ms: plan.delayMs) }
            try await context.sleep(ms: plan.delayMs / 2)
            throw InjectedFailure(task: index)
        }
    }

    private func gatherResults(_ plan: FailurePlan, _ context: RunContext) async throws -> PatternOutcome {
        let slots = Locked(ResultSlots(count: plan.count))
        try await withThrowingDiscardingTaskGroup { group in
            for index in 0..<plan.count {
                group.addTask {
                    let slot: UInt8
                    do {
                        try await work(index, plan, context)
                        slot = 1
                    } catch is CancellationError {
                        slot = 3
                    } catch {
                        slot = 2
                    }
                    slots.withLock { $0.fill(index, slot, context) }
                }
            }
        }
        try Task.checkCancellation()
        var filled = 0, failures = 0, inPlace = 0, cancelled = 0
        let filledSlots = slots.value
        for (index, slot) in filledSlots.slots.enumerated() {
            if slot != 0 { filled += 1 }
            if slot == 2 { failures += 1 }
            if slot == 3 { cancelled += 1 }
            if (slot == 2) == plan.fails(index) && slot != 0 { inPlace += 1 }
        }
        return PatternOutcome(
            result: [
                "return_exceptions": true, "count": .int(plan.count), "results": .int(filled),
                "succeeded": .int(filledSlots.outcomes.succeeded), "failures": .int(failures),
                "cancelled": .int(cancelled), "failed_tasks": plan.failingJSON,
            ],
            checks: [
                .equal("n_results", observed: filled, expected: plan.count),
                Check(
                    name: "failures_in_place", expected: "every slot holds its own task's outcome (\(plan.count))",
                    observed: .int(inPlace), passed: inPlace == plan.count),
                .equal("nothing_cancelled", observed: cancelled, expected: 0),
            ])
    }

    /// What the tasks did when the first error was allowed to surface.
    struct Tally {
        var outcomes = OutcomeCounts()
        var succeeded: Int { outcomes.succeeded }
        var cancelled: Int { outcomes.cancelled }
        var completedAfterCancel = 0
        var earliestFailureMs: Double?
        var lastEndMs = 0.0
        var cancelRequested = false
    }

    private func gatherFirstError(_ plan: FailurePlan, _ context: RunContext) async throws -> PatternOutcome {
        let tally = Locked(Tally())
        var surfaced: TimedFailure?
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<plan.count {
                    group.addTask { try await trackedWork(index, plan, context, tally) }
                }
                do {
                    while try await group.next() != nil {}
                } catch {
                    tally.withLock { tally in
                        tally.cancelRequested = true
                        group.cancelAll()
                    }
                    context.recorder.milestone("gather.error_surfaced", ["error": .string(String(describing: error))])
                    throw error
                }
            }
        } catch let failure as TimedFailure {
            surfaced = failure
        }
        let returnedMs = context.elapsedMs()
        return firstErrorOutcome(plan, tally.value, surfaced: surfaced, returnedMs: returnedMs)
    }

    private func trackedWork(
        _ index: Int, _ plan: FailurePlan, _ context: RunContext, _ tally: Locked<Tally>
    ) async throws {
        defer {
            let now = context.elapsedMs()
            tally.withLock { $0.lastEndMs = max($0.lastEndMs, now) }
        }
        do {
            try await work(index, plan, context)
            try tally.withLock { tally in
                if Task.isCancelled { throw CancellationError() }
                if tally.cancelRequested { tally.completedAfterCancel += 1 }
                tally.outcomes.count(index, .succeeded, context)
            }
        } catch is InjectedFailure {
            let now = context.elapsedMs()
            tally.withLock { tally in
                tally.earliestFailureMs = min(tally.earliestFailureMs ?? now, now)
                tally.outcomes.count(index, .failed, context)
            }
            throw TimedFailure(task: index, atMs: now)
        } catch {
            tally.withLock { $0.outcomes.count(index, .cancelled, context) }
            throw error
        }
    }

    private func firstErrorOutcome(
        _ plan: FailurePlan, _ tally: Tally, surfaced: TimedFailure?, returnedMs: Double
    ) -> PatternOutcome {
        var checks: [Check] = []
        if let surfaced {
            let failuresSeen = plan.count - tally.succeeded - tally.cancelled
            let stillRunning = plan.count - failuresSeen - (tally.succeeded - tally.completedAfterCancel)
            let earliest = tally.earliestFailureMs ?? surfaced.atMs
            checks.append(
                Check(
                    name: "first_error_surfaced",
                    expected: "an injected failure thrown at the earliest failure time (\(JSONValue.milliseconds(earliest).serialized()) ms, within 1 ms)",
                    observed: .string("\(surfaced) at \(JSONValue.milliseconds(surfaced.atMs).serialized()) ms"),
                    passed: plan.fails(surfaced.task) && surfaced.atMs <= earliest + 1))
            checks.append(
                Check(
                    name: "others_cancelled_not_abandoned",
                    expected: "\(stillRunning) still running were cancelled, 0 completed after, all ended before the return",
                    observed: .int(tally.cancelled),
                    passed: tally.cancelled == stillRunning && tally.completedAfterCancel == 0
                        && tally.lastEndMs <= returnedMs))
        } else {
            checks.append(.equal("all_succeeded", observed: tally.succeeded, expected: plan.count))
        }
        return PatternOutcome(
            result: [
                "return_exceptions": false, "count": .int(plan.count), "succeeded": .int(tally.succeeded),
                "failures": .int(tally.outcomes.failures), "cancelled": .int(tally.cancelled),
                "completed_after_cancel": .int(tally.completedAfterCancel),
                "error": surfaced.map { .string($0.description) } ?? .null,
                "error_task": surfaced.map { .int($0.task) } ?? .null,
                "first_failure_ms": tally.earliestFailureMs.map(JSONValue.milliseconds) ?? .null,
                "returned_ms": .milliseconds(returnedMs), "failed_tasks": plan.failingJSON,
            ],
            checks: checks)
    }
}

/// How many tasks ended each way so far: the counters. Each count is announced by the caller's
/// lock holder, so their values reach the log in the order they were counted.
struct OutcomeCounts: Sendable {
    enum Outcome: String { case succeeded, failed, cancelled }

    var succeeded = 0
    var failures = 0
    var cancelled = 0

    mutating func count(_ index: Int, _ outcome: Outcome, _ context: RunContext) {
        switch outcome {
        case .succeeded: succeeded += 1
        case .failed: failures += 1
        case .cancelled: cancelled += 1
        }
        context.emit(
            "gather.result",
            [
                "task": .int(index), "outcome": .string(outcome.rawValue), "succeeded": .int(succeeded),
                "failures": .int(failures), "cancelled": .int(cancelled),
            ])
    }
}

/// One outcome per task by input index (0 empty, 1 value, 2 failure, 3 cancelled), and the
/// counts of each.
private struct ResultSlots: Sendable {
    var slots: [UInt8]
    var outcomes = OutcomeCounts()

    init(count: Int) {
        slots = [UInt8](repeating: 0, count: count)
    }

    mutating func fill(_ index: Int, _ slot: UInt8, _ context: RunContext) {
        slots[index] = slot
        let outcome: OutcomeCounts.Outcome = slot == 1 ? .succeeded : slot == 2 ? .failed : .cancelled
        outcomes.count(index, outcome, context)
    }
}

/// Which tasks fail: the listed indices, or a seeded draw per index, or the middle one.
private struct FailurePlan: Sendable {
    let count: Int
    let delayMs: Int
    private let listed: Set<Int>?
    private let ratePercent: Int?
    private let seed: Int

    init(_ parameters: ParameterSet) {
        count = parameters.int("count")
        delayMs = parameters.int("delay_ms")
        seed = parameters.int("seed")
        ratePercent = parameters.optionalInt("failure_rate")
        let indices = parameters.intList("fail_indices")
        listed = indices.map(Set.init) ?? (ratePercent == nil ? [count / 2] : nil)
    }

    func fails(_ index: Int) -> Bool {
        if let listed { return listed.contains(index) }
        return SeededRandom.jitter(seed: seed, index: index, maxJitter: 99) < (ratePercent ?? 0)
    }

    /// The failing indices, the first hundred of them.
    var failingJSON: JSONValue {
        .array((0..<count).lazy.filter(fails).prefix(100).map(JSONValue.int))
    }
}

/// An injected failure with the time it was thrown, so the one that surfaces can be
/// compared with the earliest.
private struct TimedFailure: Error, CustomStringConvertible {
    let task: Int
    let atMs: Double
    var description: String { InjectedFailure(task: task).description }
}
