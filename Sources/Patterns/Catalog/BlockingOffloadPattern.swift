/// blocking-offload: blocking calls on dedicated threads, or inline on the cooperative pool.
///
/// - Parameters: `tasks` (1...maxCount) blocking calls of `block_ms` (1...maxDelayMs) each;
///   `mode`: `offload` (each call on a dedicated thread, at most `threads` (1...64) at once,
///   like run_in_executor's pool) or `inline` (the call blocks the cooperative thread that
///   runs it); a heartbeat task meanwhile sleeps `heartbeat_ms` (1...maxDelayMs) per beat
///   and records the gaps between its beats.
/// - Events: `task.started` per call and for the heartbeat; `heartbeat` per beat (with its
///   gap); `call.blocking` as a call takes its thread and `call.returned` as it gives it
///   back; `task.finished` per call (per-task events capped); `progress` counts calls.
/// - Counters: `blocking` (calls holding a thread; its peak is `peak_blocking`) and
///   `calls_completed` (ending at the figure of that name).
/// - Cancellation: calls not yet started are cancelled; a call already blocking cannot be
///   interrupted and is waited for (no thread outlives the run); the heartbeat stops.
/// - Checks: every call completed. Offload: the heartbeat's largest gap stays near its
///   interval (within one interval or 50 ms of scheduling noise, whichever is larger), and
///   no more than `threads` calls blocked at once. Inline, when the calls can occupy every
///   thread of the pool (tasks >= its width; the width is the core count on the shared
///   pool, 1 on a one-thread executor): the heartbeat starved, its largest gap >= block_ms.
///   The gap and its ratio to the interval are figures either way.
///
/// It refuses `clock: virtual`: its calls block real threads for real time.
///
/// Inline mode really blocks the threads it runs on. In production those are a pool of
/// the cooperative pool's width made for the run (`DedicatedThreadsExecutor`), so the run
/// starves its own heartbeat exactly as it would starve the shared pool, and never the
/// server's threads: request handlers and other runs go on.
public struct BlockingOffloadPattern: Pattern {
    public init() {}

    public let name = "blocking-offload"
    public let title = "Blocking offload: keep blocking calls off the cooperative pool"
    public let summary = "Runs blocking calls while a heartbeat task ticks. Offloaded to dedicated threads, the calls leave the pool free and the heartbeat keeps its beat; inline, they hold the pool's threads and the heartbeat starves."
    public let asyncioEquivalent = "await loop.run_in_executor(None, blocking_io)"
    public let swiftEquivalent = "a dedicated thread per call, bridged with a continuation (bounded by an AsyncSemaphore)"
    public let swiftNote = "Swift's cooperative pool has one thread per core and never grows: a blocking call inline holds one of them, and once every thread is blocked no task runs at all, not only the caller's (asyncio's single loop thread starves at the first blocking call). The blocking call itself cannot be cancelled."
    public let invariants = [
        "every blocking call completes",
        "offload: the heartbeat's largest gap stays near its interval; at most `threads` calls block at once",
        "inline (tasks >= the pool's threads): the heartbeat starves, largest gap >= block_ms",
    ]
    public let eventNames = ["heartbeat", "call.blocking", "call.returned"]
    public let counters = [
        CounterSpec("blocking", "calls blocking a thread"), CounterSpec("calls_completed", "calls completed"),
    ]
    public let virtualClockRefusal: String? =
        "its calls block real threads for block_ms of real time, which a virtual clock cannot skip; use clock=real"

    public func parameters(limits: PatternLimits) -> [ParameterSpec] {
        [
            .integer("tasks", default: 4, min: 1, max: limits.maxCount, "How many blocking calls."),
            .integer("block_ms", default: 100, min: 1, max: limits.maxDelayMs, "How long each call blocks its thread."),
            .choice(
                "mode", default: "offload", choices: ["offload", "inline"],
                "offload: on dedicated threads; inline: on the cooperative thread that runs the task."),
            .integer("heartbeat_ms", default: 20, min: 1, max: limits.maxDelayMs, "The heartbeat's interval."),
            .integer("threads", default: 4, min: 1, max: 64, "Dedicated threads at once (offload mode)."),
        ]
    }

    public func plannedDuration(_ parameters: ParameterSet) -> Duration {
        let tasks = parameters.int("tasks")
        let waves = parameters.string("mode") == "offload" ? tasks.dividedRoundingUp(by: parameters.int("threads")) : tasks
        return .milliseconds(waves * parameters.int("block_ms"))
    }

    /// The heartbeat's record, and how many calls blocked at once.
    struct Tally {
        var beats = 0
        var largestGapMs = 0.0
        var completedCalls = 0
        var blockingNow = 0
        var peakBlocking = 0
    }

    public func run(_ parameters: ParameterSet, context: RunContext) async throws -> PatternOutcome {
        let setup = Setup(parameters)
        context.recorder.setTotal(setup.tasks)
        let tally = Locked(Tally())
        guard !setup.offload && context.isolatesInlineBlocking else {
            try await experiment(setup, tally, context)
            return outcome(setup, tally.value)
        }
        // Inline calls block the threads they run on: give them a pool of the cooperative
        // pool's width, so they starve this run's heartbeat and never the server.
        let pool = try DedicatedThreadsExecutor(
            width: setup.poolThreadsEstimate, threads: context.threads, threadName: "lab-blocking")
        defer { pool.shutdown() }
        try await withTaskExecutorPreference(pool) { try await experiment(setup, tally, context) }
        return outcome(setup, tally.value)
    }

    /// The blocking calls, with the heartbeat beating beside them until they are done.
    private func experiment(_ setup: Setup, _ tally: Locked<Tally>, _ context: RunContext) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await heartbeat(setup, tally, context) }
            try await blockingCalls(setup, tally, context)
            group.cancelAll()
            do {
                try await group.waitForAll()
            } catch is CancellationError {
                // The heartbeat's own end.
            }
        }
    }

    /// Beats until cancelled (its sleep throws), recording the largest gap between beats.
    private func heartbeat(_ setup: Setup, _ tally: Locked<Tally>, _ context: RunContext) async throws {
        try await context.task(setup.tasks, label: "heartbeat", countsAsProgress: false) {
            var lastBeatMs = context.elapsedMs()
            for beat in 1... {
                try await context.sleep(ms: setup.heartbeatMs)
                let now = context.elapsedMs()
                let gap = now - lastBeatMs
                lastBeatMs = now
                tally.withLock {
                    $0.beats += 1
                    $0.largestGapMs = max($0.largestGapMs, gap)
                }
                context.emit("heartbeat", ["beat": .int(beat), "gap_ms": .milliseconds(gap)])
            }
        }
    }

    private func blockingCalls(_ setup: Setup, _ tally: Locked<Tally>, _ context: RunContext) async throws {
        let threads = AsyncSemaphore(permits: setup.threads)
        let clock = context.clock
        let blockFor = Duration.milliseconds(setup.blockMs)
        try await withThrowingDiscardingTaskGroup { group in
            for index in 0..<setup.tasks {
                group.addTask {
                    try await context.task(index, label: "call-\(index)") {
                        guard setup.offload else {
                            try Task.checkCancellation()
                            return block(index, clock, blockFor, tally, context)
                        }
                        try await threads.withPermit {
                            try await context.threads.run { block(index, clock, blockFor, tally, context) }
                        }
                    }
                }
            }
        }
    }

    /// The blocking call itself: no suspension, the thread is held for the whole time. The
    /// counters are announced under the tally's lock, so they reach the log in order.
    private func block(_ index: Int, _ clock: RunClock, _ duration: Duration, _ tally: Locked<Tally>, _ context: RunContext) {
        tally.withLock { tally in
            tally.blockingNow += 1
            tally.peakBlocking = max(tally.peakBlocking, tally.blockingNow)
            context.emit("call.blocking", ["task": .int(index), "blocking": .int(tally.blockingNow)])
        }
        clock.blockThread(for: duration)
        tally.withLock { tally in
            tally.blockingNow -= 1
            tally.completedCalls += 1
            context.emit(
                "call.returned",
                ["task": .int(index), "blocking": .int(tally.blockingNow), "calls_completed": .int(tally.completedCalls)])
        }
    }

    private func outcome(_ setup: Setup, _ tally: Tally) -> PatternOutcome {
        let heartbeat = Double(setup.heartbeatMs)
        var checks: [Check] = [.equal("all_blocking_calls_completed", observed: tally.completedCalls, expected: setup.tasks)]
        if setup.offload {
            checks.append(
                .atMostMs(
                    "heartbeat_kept_its_interval", observedMs: tally.largestGapMs, maximumMs: heartbeat + max(heartbeat, 50),
                    "the interval, plus one interval or 50 ms of scheduling noise"))
            checks.append(.atMost("offload_threads_within_limit", observed: tally.peakBlocking, limit: setup.threads))
        } else if tally.peakBlocking < setup.tasks || setup.tasks >= setup.poolThreadsEstimate {
            // Calls that could not all block at once had filled every thread of the pool;
            // otherwise, every thread is filled when there are as many calls as cores.
            checks.append(
                .atLeastMs(
                    "starvation_observed", observedMs: tally.largestGapMs, minimumMs: Double(setup.blockMs),
                    "block_ms: no pool thread was free to run the heartbeat"))
        }
        return PatternOutcome(
            result: [
                "mode": .string(setup.offload ? "offload" : "inline"), "calls_completed": .int(tally.completedCalls),
                "heartbeats": .int(tally.beats), "largest_gap_ms": .milliseconds(tally.largestGapMs),
                "gap_ratio": .ratio(tally.largestGapMs, heartbeat), "peak_blocking": .int(tally.peakBlocking),
                "pool_threads_estimate": .int(setup.poolThreadsEstimate),
            ],
            checks: checks)
    }
}

/// The parameters, read once.
private struct Setup: Sendable {
    let tasks, blockMs, heartbeatMs, threads: Int
    let offload: Bool
    /// The shared cooperative pool's width: one thread per online core.
    let poolThreadsEstimate: Int

    init(_ parameters: ParameterSet) {
        tasks = parameters.int("tasks")
        blockMs = parameters.int("block_ms")
        heartbeatMs = parameters.int("heartbeat_ms")
        threads = parameters.int("threads")
        offload = parameters.string("mode") == "offload"
        poolThreadsEstimate = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
