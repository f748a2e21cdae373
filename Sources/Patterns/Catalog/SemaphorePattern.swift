/// semaphore: bound how many tasks do their work at once.
///
/// - Parameters: `count` (1...maxCount) tasks; `limit` (1...maxCount) permits; `delay_ms`
///   (0...maxDelayMs) of work per task, done holding a permit.
/// - Events, per task (capped): `task.started` once it holds a permit (a task's span is
///   its time holding one), `semaphore.acquired` (with `in_flight`, the holders counting
///   this one, and `waiting`), `semaphore.released` (with `in_flight` left),
///   `task.finished`; `progress`.
/// - Cancellation: tasks waiting for a permit leave the queue, holders stop sleeping and
///   release; no permit is leaked (`AsyncSemaphore`). The run ends `cancelled`.
/// - Checks: the peak of concurrent holders never exceeds the limit, and reaches
///   min(limit, count) when tasks hold for some time (`peak_in_flight_equals_min`, with
///   `delay_ms` > 0); the wall time is at least the ideal
///   ceil(count / limit) * delay (`wall_at_least_ideal`), with `wall_ratio` (wall / ideal)
///   as a figure: exactly 1 on the virtual clock, scheduler noise on a real one.
public struct SemaphorePattern: Pattern {
    public init() {}

    public let name = "semaphore"
    public let title = "Semaphore: at most N at a time"
    public let summary = "Starts every task at once, but a semaphore lets only `limit` of them work at the same time; the rest queue in order, so the whole takes ceil(count / limit) rounds of the delay."
    public let asyncioEquivalent = "async with asyncio.Semaphore(limit)"
    public let swiftEquivalent = "AsyncSemaphore (FIFO, continuation-based) in a task group"
    public let swiftNote = "Swift's standard library has no async semaphore (DispatchSemaphore blocks a thread, which starves the cooperative pool); this one suspends waiters and serves them first come, first served."
    public let invariants = [
        "peak in-flight <= limit",
        "peak in-flight == min(limit, count)",
        "wall time >= ceil(count / limit) * delay_ms",
    ]
    public let eventNames = ["semaphore.acquired", "semaphore.released"]

    public func parameters(limits: PatternLimits) -> [ParameterSpec] {
        [
            .integer("count", default: 10, min: 1, max: limits.maxCount, "How many tasks want the resource."),
            .integer("limit", default: 3, min: 1, max: limits.maxCount, "How many may hold it at once."),
            .integer("delay_ms", default: 200, min: 0, max: limits.maxDelayMs, "How long each task holds its permit."),
        ]
    }

    public func plannedDuration(_ parameters: ParameterSet) -> Duration {
        .milliseconds(idealMs(parameters.int("count"), parameters.int("limit"), parameters.int("delay_ms")))
    }

    private func idealMs(_ count: Int, _ limit: Int, _ delay: Int) -> Int {
        count.dividedRoundingUp(by: limit) * delay
    }

    public func run(_ parameters: ParameterSet, context: RunContext) async throws -> PatternOutcome {
        let count = parameters.int("count")
        let limit = parameters.int("limit")
        let delay = parameters.int("delay_ms")
        context.recorder.setTotal(count)
        let semaphore = AsyncSemaphore(permits: limit)
        let inFlight = Locked((now: 0, peak: 0))
        let startMs = context.elapsedMs()
        try await withThrowingDiscardingTaskGroup { group in
            for index in 0..<count {
                group.addTask {
                    // The span is the time holding a permit, so the timeline never shows more
                    // than `limit` bars at once; the wait shows as the gap before the bar.
                    try await semaphore.withPermit {
                        try await context.task(index) { try await hold(index, delay, semaphore, inFlight, context) }
                    }
                }
            }
        }
        let wallMs = context.elapsedMs() - startMs
        return outcome(count: count, limit: limit, delay: delay, peak: inFlight.value.peak, wallMs: wallMs)
    }

    /// The work done holding a permit, counted in and out of the in-flight tally.
    private func hold(
        _ index: Int, _ delay: Int, _ semaphore: AsyncSemaphore, _ inFlight: Locked<(now: Int, peak: Int)>,
        _ context: RunContext
    ) async throws {
        let holders = inFlight.withLock { state -> Int in
            state.now += 1
            state.peak = max(state.peak, state.now)
            return state.now
        }
        context.emit(
            "semaphore.acquired", ["task": .int(index), "in_flight": .int(holders), "waiting": .int(semaphore.waitingCount)])
        defer {
            let left = inFlight.withLock { state -> Int in
                state.now -= 1
                return state.now
            }
            context.emit("semaphore.released", ["task": .int(index), "in_flight": .int(left)])
        }
        try await context.sleep(ms: delay)
    }

    private func outcome(count: Int, limit: Int, delay: Int, peak: Int, wallMs: Double) -> PatternOutcome {
        let ideal = idealMs(count, limit, delay)
        var checks: [Check] = [.atMost("peak_concurrency_within_limit", observed: peak, limit: limit)]
        if delay > 0 {
            // Holders only overlap while they hold for some time: zero-delay tasks may not.
            checks.append(.equal("peak_in_flight_equals_min", observed: peak, expected: min(limit, count)))
        }
        checks.append(
            .atLeastMs("wall_at_least_ideal", observedMs: wallMs, minimumMs: Double(ideal), "ceil(count / limit) * delay_ms"))
        return PatternOutcome(
            result: [
                "count": .int(count), "limit": .int(limit), "peak_in_flight": .int(peak),
                "wall_ms": .milliseconds(wallMs), "ideal_ms": .int(ideal), "wall_ratio": .ratio(wallMs, Double(ideal)),
            ],
            checks: checks)
    }
}
