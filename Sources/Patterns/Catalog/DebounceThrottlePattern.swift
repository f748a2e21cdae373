import AsyncAlgorithms

/// debounce-throttle: a bursty event source through swift-async-algorithms' `debounce`
/// and `throttle` (used as they are, on the run's clock through `RunClock.asClock`).
///
/// - Parameters: `bursts` (1...1,000) of `burst_size` (1...1,000) events, `event_gap_ms`
///   apart, with `quiet_ms` of silence after each burst (the last one included, so the
///   source ends quiet); `debounce_ms` and `throttle_ms`, the two operators' intervals.
/// - One source feeds both pipelines, side by side.
/// - Events: `source.event` (value, burst, `source_events`), then
///   `debounce.emitted` (value, its source time, `debounced`) and `throttle.emitted`
///   (value, `throttled`); a span per source and per consumer.
/// - Cancellation: the sources stop and the consumers' iteration ends; the run ends
///   `cancelled`.
/// - Checks: debounce emitted only the last events of bursts as it received them (events
///   followed by at least `debounce_ms` of quiet), each once and at least `debounce_ms` after
///   it received it (when the schedule's bursts are bursts to it: gap < debounce_ms <
///   quiet_ms); how many burst ends it received is a figure beside how many it emitted; throttle emitted at most one event per `throttle_ms` (consecutive emissions
///   at least that far apart, each timed at the instant throttle itself read to decide it).
///
/// On `clock: virtual`, `debounce`'s own `Task {}` (which inherits no executor preference)
/// runs on the run's thread all the same: `GlobalJobRouting` sends the jobs the run's thread
/// enqueues on the global executor to the run's executor, and the operators sleep on the
/// run's clock, so the autojump sees their timers like any other.
public struct DebounceThrottlePattern: Pattern {
    public init() {
        misconfigured = false
    }

    /// Operators given half the intervals the checks hold them to: tests break them on purpose.
    init(misconfigured: Bool) {
        self.misconfigured = misconfigured
    }

    let misconfigured: Bool

    public let name = "debounce-throttle"
    public let title = "Debounce and throttle: taming a bursty source"
    public let summary = "Bursts of events go through debounce, which waits for a quiet spell and passes only the last event of each burst, and through throttle, which passes at most one event per interval."
    public let asyncioEquivalent = "no asyncio equivalent: a task that restarts an asyncio.sleep on every event (debounce), or drops events until an interval has passed (throttle)"
    public let swiftEquivalent = "swift-async-algorithms 1.1.4: stream.debounce(for:clock:) and stream._throttle(for:clock:latest:) on the run's clock"
    public let swiftNote = "debounce consumes its upstream in an unstructured task of its own (on clock=virtual its jobs join the run's one thread all the same); throttle runs inside the consumer's next(). Both take any Clock, so the run's clock drives them."
    public let invariants = [
        "debounce emits only the last event of each burst",
        "debounce emits after a quiet period of at least its interval",
        "throttle emits at most one event per interval",
    ]
    public let eventNames = ["source.event", "debounce.emitted", "throttle.emitted"]
    public let counters = [
        CounterSpec("source_events", "events from the source (each pipeline)"),
        CounterSpec("debounced", "events debounce emitted"),
        CounterSpec("throttled", "events throttle emitted"),
    ]

    public func parameters(limits: PatternLimits) -> [ParameterSpec] {
        [
            .integer("bursts", default: 5, min: 1, max: 1_000, "Bursts of events."),
            .integer("burst_size", default: 6, min: 1, max: 1_000, "Events per burst."),
            .integer("event_gap_ms", default: 10, min: 1, max: limits.maxDelayMs, "Time between events of a burst."),
            .integer("quiet_ms", default: 100, min: 1, max: limits.maxDelayMs, "Silence after each burst."),
            .integer("debounce_ms", default: 50, min: 1, max: limits.maxDelayMs, "Debounce's quiet period."),
            .integer("throttle_ms", default: 40, min: 1, max: limits.maxDelayMs, "Throttle's interval."),
        ]
    }

    public func crossCheck(_ parameters: ParameterSet) -> [FieldIssue] {
        guard parameters.int("bursts") * parameters.int("burst_size") > 100_000 else { return [] }
        return [FieldIssue(field: "burst_size", message: "bursts * burst_size must be at most 100000")]
    }

    public func plannedDuration(_ parameters: ParameterSet) -> Duration {
        .milliseconds(BurstSchedule(parameters).durationMs)
    }

    public func run(_ parameters: ParameterSet, context: RunContext) async throws -> PatternOutcome {
        let schedule = BurstSchedule(parameters)
        let debounceMs = parameters.int("debounce_ms")
        let throttleMs = parameters.int("throttle_ms")
        context.recorder.setTotal(schedule.events)
        let debounced = DebounceThrottleLog(pipeline: "debounce", counter: "debounced")
        let throttled = DebounceThrottleLog(pipeline: "throttle", counter: "throttled")
        let clock = context.clock.asClock
        let throttleClock = NowRecordingClock(clock)
        let receipts = Locked([Int: Double]())
        let debounceInterval = Duration.milliseconds(misconfigured ? max(1, schedule.gapMs / 2) : debounceMs)
        let throttleInterval = Duration.milliseconds(misconfigured ? max(1, throttleMs / 2) : throttleMs)
        try await withThrowingTaskGroup(of: Void.self) { group in
            let (debounceSource, debounceFeed) = AsyncStream<Int>.makeStream()
            let (throttleSource, throttleFeed) = AsyncStream<Int>.makeStream()
            group.addTask {
                let received = ReceiptTimedSequence(base: debounceSource, clock: context.clock, receipts: receipts)
                try await debounced.consume(received.debounce(for: debounceInterval, clock: clock), id: 1, context)
            }
            group.addTask {
                try await throttled.consume(
                    throttleSource._throttle(for: throttleInterval, clock: throttleClock, latest: true), id: 2, context,
                    decidedAt: { throttleClock.lastReadNow?.offset.milliseconds })
            }
            group.addTask { try await schedule.play(into: [debounceFeed, throttleFeed], id: 0, context) }
            try await group.waitForAll()
        }
        return DebounceThrottleAudit(
            schedule: schedule, debounceMs: debounceMs, throttleMs: throttleMs, debounced: debounced.emissions,
            throttled: throttled.emissions, sourceTimes: schedule.log.times, receiptTimes: receipts.value
        ).outcome
    }
}
