/// semaphore: bound how many tasks do their work at once.
///
/// - Parameters: `count` (1...maxCount) tasks; `limit` (1...maxCount) permits; `delay_ms`
///   (0...maxDelayMs) of work per task, done holding a permit.
/// - Events, per task (capped): `semaphore.waiting` as it asks for a permit (with
///   `waiting`, the tasks that asked and hold none yet, counting this one), `task.started`
///   once it holds one (a task's span is its time holding one), `semaphore.acquired` (with
///   `in_flight`, the holders counting this one, and `waiting`), `semaphore.released` (with
///   `in_flight` left), `task.finished`; `semaphore.abandoned` (with `waiting`) for a task
///   cancelled while it waited; `progress`.
/// - Counters: `in_flight` (permits held; its peak is `peak_in_flight`) and `waiting`.
/// - Cancellation: tasks waiting for a permit leave the queue, holders stop sleeping and
///   release; no permit is leaked (`AsyncSemaphore`). The run ends `cancelled`.
/// - Checks: the peak of concurrent holders never exceeds the limit, and reaches
///   min(limit, count) when tasks hold for some time (`peak_in_flight_equals_min`, with
///   `delay_ms` > 0); the wall time is at least the ideal
///   ceil(count / limit) * delay (`wall_at_least_ideal`), with `wall_ratio` (wall / ideal)
///   as a figure: exactly 1 on the virtual clock, scheduler noise on a real one.
public struct SemaphorePattern: Pattern {
    public init() {}

    /// Children added between two yields of the adding task (see `run`).
    static let spawnBatch = 128

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
    public let eventNames = ["semaphore.waiting", "semaphore.acquired", "semaphore.released", "semaphore.abandoned"]
    public let counters = [CounterSpec("in_flight", "permits held"), CounterSpec("waiting", "tasks waiting for a permit")]

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
        let inFlight = Locked(Holders())
        let startMs = context.elapsedMs()
        try await withThrowingDiscardingTaskGroup { group in
            for index in 0..<count {
                // Adding 10,000 children in one go puts 10,000 first steps in the run's
                // executor queue (FIFO) ahead of the holders the timer wakes 10 ms later, and
                // the lateness carried through every later round. Yielding every `spawnBatch`
                // children lets woken holders in between (10,000 x 10 ms, limit 100: 1,065 ms
                // instead of 1,100, medians of 6 interleaved runs); every task still starts
                // within the first milliseconds, in index order, and a virtual run is unchanged.
                if index > 0 && index % Self.spawnBatch == 0 { await Task.yield() }
                group.addTask {
                    inFlight.withLock { $0.ask(index, context) }
                    // The span is the time holding a permit, so the timeline never shows more
                    // than `limit` bars at once; the wait shows as the gap before the bar.
                    do {
                        try await semaphore.acquire()
                    } catch {
                        inFlight.withLock { $0.abandon(index, context) }
                        throw error
                    }
                    defer { semaphore.release() }
                    try await context.task(index) { try await hold(index, delay, inFlight, context) }
                }
            }
        }
        let wallMs = context.elapsedMs() - startMs
        return outcome(count: count, limit: limit, delay: delay, peak: inFlight.value.peak, wallMs: wallMs)
    }

    /// The work done holding a permit, counted in and out of the holders' tally.
    private func hold(_ index: Int, _ delay: Int, _ inFlight: Locked<Holders>, _ context: RunContext) async throws {
        inFlight.withLock { $0.acquire(index, context) }
        defer { inFlight.withLock { $0.release(index, context) } }
        try await context.sleep(ms: delay)
    }

    /// The tasks holding a permit and those waiting for one. Each change is announced under
    /// the lock that makes it, so the counters' values reach the log in the order they took.
    struct Holders {
        var now = 0
        var peak = 0
        var waiting = 0

        mutating func ask(_ index: Int, _ context: RunContext) {
            waiting += 1
            context.emit("semaphore.waiting", ["task": .int(index), "waiting": .int(waiting)])
        }

        mutating func abandon(_ index: Int, _ context: RunContext) {
            waiting -= 1
            context.emit("semaphore.abandoned", ["task": .int(index), "waiting": .int(waiting)])
        }

        mutating func acquire(_ index: Int, _ context: RunContext) {
            waiting -= 1
            now += 1
            peak = max(peak, now)
            context.emit("semaphore.acquired", ["task": .int(index), "in_flight": .int(now), "waiting": .int(waiting)])
        }

        mutating func release(_ index: Int, _ context: RunContext) {
            now -= 1
            context.emit("semaphore.released", ["task": .int(index), "in_flight": .int(now)])
        }
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
