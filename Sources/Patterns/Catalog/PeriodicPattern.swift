/// periodic: a task that ticks every interval until it is cancelled.
///
/// - Parameters: `interval_ms` (1...maxDelayMs); `duration_ms` (0...maxDelayMs), after
///   which the run cancels the periodic task; `work_ms` (0...maxDelayMs) of work per tick;
///   `schedule`: `fixed_rate` (tick n at n * interval; the work must fit in the interval)
///   or `fixed_delay` (sleep the interval after each tick's work, asyncio's loop, which
///   drifts by the work every tick).
/// - Events: `task.started` (the periodic task); `tick` per tick (with its number, its
///   ideal time n * interval and the drift from it; capped); `periodic.cancelled` when the run cancels it;
///   `task.cancelled` as it stops; `progress` counts ticks.
/// - Counters: `ticks`, carried by `tick`, ending at the `ticks` figure.
/// - Cancellation: that is how it ends. Cancelling the run also cancels the loop.
/// - Checks: ticks ~ duration / period (within one, for fixed_rate; no more than one
///   above, for fixed_delay, whose period only grows with scheduling noise); no tick after
///   the cancellation; the task ended by cancellation. Drift is reported, not checked.
public struct PeriodicPattern: Pattern {
    public init() {}

    public let name = "periodic"
    public let title = "Periodic: tick until cancelled"
    public let summary = "A background task does a little work every interval; after the duration the run cancels it, and the loop stops at its next suspension point without ticking again."
    public let asyncioEquivalent = "while True: await work(); await asyncio.sleep(interval); later task.cancel()"
    public let swiftEquivalent = "a child task looping over clock.sleep(until:), cancelled with group.cancelAll()"
    public let swiftNote = "Cancellation is cooperative: the loop stops because its sleep throws CancellationError; a loop that swallowed that error (try? await sleep) would tick on. Sleeping until absolute deadlines (fixed_rate) keeps drift from accumulating."
    public let invariants = [
        "ticks ~ duration / period",
        "no tick after the cancellation",
        "the periodic task ends by cancellation",
    ]
    public let eventNames = ["tick", "periodic.cancelled"]
    public let counters = [CounterSpec("ticks", "ticks")]

    public func parameters(limits: PatternLimits) -> [ParameterSpec] {
        [
            .integer("interval_ms", default: 100, min: 1, max: limits.maxDelayMs, "Time between ticks."),
            .integer("duration_ms", default: 550, min: 0, max: limits.maxDelayMs, "When the periodic task is cancelled."),
            .integer("work_ms", default: 10, min: 0, max: limits.maxDelayMs, "Work done at each tick."),
            .choice(
                "schedule", default: "fixed_rate", choices: ["fixed_rate", "fixed_delay"],
                "fixed_rate: tick at multiples of the interval; fixed_delay: sleep the interval after the work."),
        ]
    }

    public func crossCheck(_ parameters: ParameterSet) -> [FieldIssue] {
        guard parameters.string("schedule") == "fixed_rate",
            parameters.int("work_ms") >= parameters.int("interval_ms")
        else { return [] }
        return [FieldIssue(field: "work_ms", message: "must be less than interval_ms for fixed_rate (or use fixed_delay)")]
    }

    public func plannedDuration(_ parameters: ParameterSet) -> Duration {
        .milliseconds(parameters.int("duration_ms"))
    }

    /// What the loop did, and whether it did anything after the cancellation.
    struct Tally {
        var ticks = 0
        var ticksAfterCancel = 0
        var maxDriftMs = 0.0
        var lastDriftMs = 0.0
        var cancelRequested = false
        var cancelAtMs = 0.0
        var stoppedAtMs: Double?
        var endedByCancellation = false
    }

    public func run(_ parameters: ParameterSet, context: RunContext) async throws -> PatternOutcome {
        let timing = Timing(parameters)
        context.recorder.setTotal(timing.expectedTicks)
        let tally = Locked(Tally())
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await loop(timing, tally, context) }
            try await context.sleep(ms: timing.durationMs)
            let now = context.elapsedMs()
            tally.withLock { tally in
                tally.cancelRequested = true
                tally.cancelAtMs = now
                group.cancelAll()
            }
            context.recorder.milestone("periodic.cancelled", ["ticks": .int(tally.value.ticks)])
            do {
                try await group.waitForAll()
            } catch is CancellationError {
                // The periodic task's own end: expected, and recorded in the tally.
            }
        }
        return outcome(tally.value, timing)
    }

    private func loop(_ timing: Timing, _ tally: Locked<Tally>, _ context: RunContext) async throws {
        do {
            try await context.task(0, label: "periodic", countsAsProgress: false) {
                let start = context.clock.now()
                for tick in 0... {
                    // Drift against the nominal grid: fixed_delay falls behind by the work per tick.
                    let idealMs = start.milliseconds + Double(tick * timing.intervalMs)
                    try recordTick(tick, idealMs: idealMs, tally, context)
                    if timing.workMs > 0 { try await context.sleep(ms: timing.workMs) }
                    if timing.fixedRate {
                        try await context.clock.sleep(until: start + .milliseconds(timing.intervalMs * (tick + 1)))
                    } else {
                        try await context.sleep(ms: timing.intervalMs)
                    }
                }
            }
        } catch is CancellationError {
            let now = context.elapsedMs()
            tally.withLock {
                $0.stoppedAtMs = now
                $0.endedByCancellation = true
            }
            throw CancellationError()
        }
    }

    /// A tick, decided under the same lock as the cancellation: a loop that is cancelled
    /// stops here; one that ticks although cancellation was requested is counted.
    private func recordTick(_ tick: Int, idealMs: Double, _ tally: Locked<Tally>, _ context: RunContext) throws {
        let now = context.elapsedMs()
        let drift = now - idealMs
        try tally.withLock { tally in
            if Task.isCancelled { throw CancellationError() }
            if tally.cancelRequested { tally.ticksAfterCancel += 1 }
            tally.ticks += 1
            tally.maxDriftMs = max(tally.maxDriftMs, drift)
            tally.lastDriftMs = drift
            // With the progress it brings, in one append: one write per subscriber per tick.
            context.emit(
                "tick",
                [
                    "tick": .int(tick), "ideal_ms": .milliseconds(idealMs), "drift_ms": .milliseconds(drift),
                    "ticks": .int(tally.ticks),
                ],
                advancingProgressBy: 1)
        }
    }

    private func outcome(_ tally: Tally, _ timing: Timing) -> PatternOutcome {
        let expected = timing.expectedTicks
        let ticksCheck =
            timing.fixedRate
            ? Check(
                name: "ticks_match_duration_over_interval", expected: "\(expected) ± 1 (ceil(duration / interval))",
                observed: .int(tally.ticks), passed: abs(tally.ticks - expected) <= 1)
            : Check(
                name: "ticks_match_duration_over_interval",
                expected: "<= \(expected + 1) (ceil(duration / (interval + work)), fewer when sleeps overshoot)",
                observed: .int(tally.ticks), passed: tally.ticks <= expected + 1)
        return PatternOutcome(
            result: [
                "schedule": .string(timing.fixedRate ? "fixed_rate" : "fixed_delay"), "ticks": .int(tally.ticks),
                "expected_ticks": .int(expected), "max_drift_ms": .milliseconds(tally.maxDriftMs),
                "last_drift_ms": .milliseconds(tally.lastDriftMs), "cancelled_at_ms": .milliseconds(tally.cancelAtMs),
                "stop_latency_ms": .milliseconds((tally.stoppedAtMs ?? tally.cancelAtMs) - tally.cancelAtMs),
            ],
            checks: [
                ticksCheck,
                .equal("no_tick_after_cancellation", observed: tally.ticksAfterCancel, expected: 0),
                .isTrue("periodic_task_ended_by_cancellation", tally.endedByCancellation),
            ])
    }
}

/// The schedule, read once from the parameters.
private struct Timing: Sendable {
    let intervalMs: Int
    let durationMs: Int
    let workMs: Int
    let fixedRate: Bool

    init(_ parameters: ParameterSet) {
        intervalMs = parameters.int("interval_ms")
        durationMs = parameters.int("duration_ms")
        workMs = parameters.int("work_ms")
        fixedRate = parameters.string("schedule") == "fixed_rate"
    }

    /// The time between ticks when nothing runs late: the interval, plus the work for
    /// fixed_delay.
    var periodMs: Double { Double(fixedRate ? intervalMs : intervalMs + workMs) }

    /// Ticks at 0, p, 2p, ... strictly before the duration (one due exactly at the
    /// cancellation loses the race to it).
    var expectedTicks: Int { Int((Double(durationMs) / periodMs).rounded(.up)) }
}
