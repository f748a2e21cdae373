import LabJSON

/// as-completed: take each task's result as soon as it is done, fastest first.
///
/// - Parameters: `delays_ms` (up to 1,000 delays, each 0...maxDelayMs), or else `count`
///   (1...maxCount) tasks of `delay_ms` plus a jitter up to `jitter_ms` drawn from `seed`.
/// - Events: `task.started` per task; then per task, in the order they end: `task.finished`
///   and `result.taken` (task, `position`, `taken` so far, its delay); `progress`.
/// - Cancellation: cancelling the run cancels every task still running and stops the
///   iteration; the run ends `cancelled`.
/// - Checks: the results were taken in the order the tasks ended (tasks ending within 1 ms
///   of each other count as simultaneous: which of them a multi-threaded pool hands over
///   first is a race); the first result was taken once the quickest task ended, not after
///   all of them; every result was taken exactly once.
public struct AsCompletedPattern: Pattern {
    /// Ways to break one guarantee each, so tests can show that its check fails.
    enum Fault: Sendable {
        /// Results are taken in input order (gather's order).
        case inputOrder
        /// Every task is awaited before the first result is taken.
        case afterAll
        /// The last result is never taken.
        case dropsOne
    }

    let fault: Fault?

    public init() { fault = nil }
    init(fault: Fault?) { self.fault = fault }

    public let name = "as-completed"
    public let title = "As completed: each result as soon as it is ready"
    public let summary = "Starts tasks of different lengths and takes each result the moment its task ends, quickest first, instead of waiting for all of them and getting them in input order."
    public let asyncioEquivalent = "for coro in asyncio.as_completed(tasks): result = await coro"
    public let swiftEquivalent = "for try await result in group (a task group yields its children's results as they finish)"
    public let swiftNote = "A task group is as_completed: iterating it yields results in completion order. asyncio.as_completed yields awaitables (in 3.13, the tasks themselves) and takes a timeout that raises TimeoutError for the rest; a group has no timeout of its own and always awaits every child before it ends."
    public let invariants = [
        "results are taken in the order the tasks end",
        "the first result is taken when the quickest task ends, not after all",
        "every result is taken exactly once",
    ]
    public let eventNames = ["result.taken"]
    public let counters = [CounterSpec("taken", "results taken")]

    public func parameters(limits: PatternLimits) -> [ParameterSpec] {
        TaskDelayPlan.parameters(limits: limits, count: 5, delayMs: 100, jitterMs: 400)
    }

    public func plannedDuration(_ parameters: ParameterSet) -> Duration {
        .milliseconds(TaskDelayPlan(parameters).delays.max() ?? 0)
    }

    /// When each task ended and when each result was taken.
    struct Log {
        var endMs: [Int: Double] = [:]
        var taken: [(task: Int, ms: Double)] = []
    }

    public func run(_ parameters: ParameterSet, context: RunContext) async throws -> PatternOutcome {
        let plan = TaskDelayPlan(parameters)
        context.recorder.setTotal(plan.count)
        let log = Locked(Log())
        try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<plan.count {
                group.addTask {
                    try await context.task(index) {
                        try await context.sleep(ms: plan.delays[index])
                        let now = context.elapsedMs()
                        log.withLock { $0.endMs[index] = now }
                        return index
                    }
                }
            }
            var results: [Int] = []
            for try await index in group {
                if fault == nil {
                    take(index, plan, log, context)
                } else {
                    results.append(index)
                }
            }
            if fault == .inputOrder { results.sort() }
            if fault == .dropsOne { results.removeLast() }
            for index in results { take(index, plan, log, context) }
        }
        return outcome(plan, log.value)
    }

    private func take(_ index: Int, _ plan: TaskDelayPlan, _ log: Locked<Log>, _ context: RunContext) {
        let now = context.elapsedMs()
        let position = log.withLock { log -> Int in
            log.taken.append((index, now))
            return log.taken.count
        }
        context.emit(
            "result.taken",
            ["task": .int(index), "position": .int(position), "taken": .int(position), "delay_ms": .int(plan.delays[index])])
    }

    private func outcome(_ plan: TaskDelayPlan, _ log: Log) -> PatternOutcome {
        let takenOrder = log.taken.map(\.task)
        let endOrder = log.endMs.sorted { ($0.value, $0.key) < ($1.value, $1.key) }.map(\.key)
        let ends = takenOrder.map { log.endMs[$0] ?? .infinity }
        let inEndOrder = zip(ends, ends.dropFirst()).allSatisfy { previous, next in next >= previous - 1 }
        let least = plan.delays.min() ?? 0
        let lastEndMs = log.endMs.values.max() ?? 0
        let firstMs = log.taken.first?.ms ?? .infinity
        let distinct = plan.delays.max() != least
        let firstInTime = firstMs >= Double(least) && (!distinct || firstMs < lastEndMs)
        var checks: [Check] = [
            Check(
                name: "order_equals_end_order", expected: "the end order \(Array(endOrder.prefix(100)))",
                observed: .array(takenOrder.prefix(100).map(JSONValue.int)), passed: inEndOrder && !takenOrder.isEmpty),
            Check(
                name: "first_result_taken_at_least_delay",
                expected: ">= \(least) ms (the least delay)"
                    + (distinct ? ", before the last task ended (\(JSONValue.milliseconds(lastEndMs).serialized()) ms)" : ""),
                observed: .milliseconds(firstMs), passed: firstInTime),
        ]
        let distinctTaken = Set(takenOrder).count
        checks.append(
            Check(
                name: "every_result_taken_once", expected: "== \(plan.count), none twice", observed: .int(distinctTaken),
                passed: distinctTaken == plan.count && takenOrder.count == plan.count))
        return PatternOutcome(
            result: [
                "count": .int(plan.count), "taken": .int(takenOrder.count),
                "taken_order": .array(takenOrder.prefix(100).map(JSONValue.int)),
                "delays_ms": .array(plan.delays.prefix(100).map(JSONValue.int)),
                "first_taken_ms": log.taken.first.map { .milliseconds($0.ms) } ?? .null,
                "least_delay_ms": .int(least), "last_end_ms": .milliseconds(lastEndMs),
            ],
            checks: checks)
    }
}
