import LabJSON

/// hedging: send a second copy of a slow request and keep whichever answers first, as in
/// "The Tail at Scale" (Dean and Barroso, 2013).
///
/// - Parameters: `requests` (1...10,000), one every `interval_ms`, to a dependency whose calls take
///   `latency_ms` plus up to `jitter_ms`, except `slow_pct` percent that take `slow_ms`
///   (drawn per call from `seed`); `hedge_after_ms`, when the hedged arm sends the copy.
/// - Two arms on the same seed, side by side, each against a dependency of its own: plain
///   (one call per request) and hedged. A request's first call has the same latency in
///   both arms; the copy draws its own.
/// - Events, per request (capped): `task.started`; `hedge.sent` (request,
///   `hedges_sent`, `in_flight_hedged`); `hedge.won` (which call answered first);
///   `call.cancelled` for the loser; `task.finished`. Calls carry `in_flight_plain` or
///   `in_flight_hedged` as they start and end.
/// - Cancellation: every call in flight is cancelled; the run ends `cancelled`.
/// - Checks: every losing call still running when the winner was taken was cancelled (the
///   dependency's own count of calls cancelled in flight, plus answers that arrived as their
///   loser was being cancelled and were dropped) and none answered after that; p99 latency
///   with hedging < p99 without. Extra requests are counted and shown as a percentage.
public struct HedgingPattern: Pattern {
    public init() {
        cancelsLosers = true
    }

    /// A hedger that lets the loser run to its end: tests break it on purpose.
    init(cancelsLosers: Bool) {
        self.cancelsLosers = cancelsLosers
    }

    let cancelsLosers: Bool

    public let name = "hedging"
    public let title = "Hedging: a second request for the slow tail"
    public let summary = "When a request has not answered after a short delay, a copy is sent; whichever answers first wins and the other is cancelled. A few extra requests cut the slow tail of the latency."
    public let asyncioEquivalent = "asyncio.wait([first, hedge], return_when=FIRST_COMPLETED), the hedge started after asyncio.sleep(hedge_after), then cancel the loser"
    public let swiftEquivalent = "withThrowingTaskGroup: the call, and a child that sleeps hedge_after then calls; group.next() then cancelAll()"
    public let swiftNote = "The group awaits the cancelled loser before returning (it cannot outlive the request); its call ends at once because sleeping on the clock is a cancellation point."
    public let invariants = [
        "every loser cancelled, none answers after the winner",
        "p99 with hedging < p99 without",
        "extra requests counted",
    ]
    public let eventNames = ["hedge.sent", "hedge.won", "call.started", "call.ended", "call.cancelled"]
    public let counters = [
        CounterSpec("in_flight_plain", "calls in flight (plain)"),
        CounterSpec("in_flight_hedged", "calls in flight (hedged)"),
        CounterSpec("hedges_sent", "hedges sent"),
    ]

    public func parameters(limits: PatternLimits) -> [ParameterSpec] {
        [
            .integer("requests", default: 100, min: 1, max: min(10_000, limits.maxCount), "Requests in each arm."),
            .integer("interval_ms", default: 5, min: 0, max: limits.maxDelayMs, "Time between requests (0: all at once)."),
            .integer("latency_ms", default: 20, min: 1, max: limits.maxDelayMs, "A usual call's latency."),
            .integer("jitter_ms", default: 10, min: 0, max: limits.maxDelayMs, "Up to this much more, drawn per call."),
            .integer("slow_ms", default: 400, min: 1, max: limits.maxDelayMs, "A slow call's latency."),
            .integer("slow_pct", default: 5, min: 0, max: 100, "Percent of calls that are slow."),
            .integer("hedge_after_ms", default: 50, min: 0, max: limits.maxDelayMs, "When the copy is sent."),
            .integer("seed", default: 42, min: 0, max: Int(Int32.max), "Seed for the latencies."),
        ]
    }

    public func plannedDuration(_ parameters: ParameterSet) -> Duration {
        let slowest = parameters.int("slow_pct") > 0 ? max(parameters.int("slow_ms"), parameters.int("latency_ms")) : parameters.int("latency_ms")
        let arrivals = (parameters.int("requests") - 1) * parameters.int("interval_ms")
        return .milliseconds(arrivals + slowest + parameters.int("jitter_ms"))
    }

    public func run(_ parameters: ParameterSet, context: RunContext) async throws -> PatternOutcome {
        let setup = HedgingSetup(parameters)
        context.recorder.setTotal(setup.requests * 2)
        let plain = HedgingArm(hedged: false, setup: setup, cancelsLosers: cancelsLosers)
        let hedged = HedgingArm(hedged: true, setup: setup, cancelsLosers: cancelsLosers)
        async let plainLatencies = plain.run(context)
        async let hedgedLatencies = hedged.run(context)
        let (plainMs, hedgedMs) = try await (plainLatencies, hedgedLatencies)
        return outcome(setup, plain: plainMs, hedged: hedgedMs, arm: hedged)
    }

    private func outcome(_ setup: HedgingSetup, plain: [Double], hedged: [Double], arm: HedgingArm) -> PatternOutcome {
        let tally = arm.tally
        let plainP99 = plain.percentile(99) ?? 0
        let hedgedP99 = hedged.percentile(99) ?? 0
        let losersRunning = tally.hedgesSent - tally.completedAlongside
        let cancelled = arm.dependency.cancelledCalls + tally.discarded
        return PatternOutcome(
            result: [
                "requests": .int(setup.requests), "hedges_sent": .int(tally.hedgesSent),
                "extra_requests_pct": .ratio(Double(tally.hedgesSent * 100), Double(setup.requests)),
                "hedge_wins": .int(tally.hedgeWins), "losers_cancelled": .int(cancelled),
                "losers_answer_dropped": .int(tally.discarded),
                "completed_alongside_winner": .int(tally.completedAlongside),
                "p50_plain_ms": .milliseconds(plain.percentile(50) ?? 0), "p50_hedged_ms": .milliseconds(hedged.percentile(50) ?? 0),
                "p99_plain_ms": .milliseconds(plainP99), "p99_hedged_ms": .milliseconds(hedgedP99),
                "max_plain_ms": .milliseconds(plain.max() ?? 0), "max_hedged_ms": .milliseconds(hedged.max() ?? 0),
            ],
            checks: [
                .equal("losers_cancelled", observed: cancelled, expected: losersRunning),
                .equal("no_loser_answered_after_winner", observed: tally.completedAfterWinner, expected: 0),
                Check(
                    name: "p99_hedged_below_plain", expected: "< \(JSONValue.milliseconds(plainP99).serialized()) ms (p99 without hedging)",
                    observed: .milliseconds(hedgedP99), passed: hedgedP99 < plainP99),
            ])
    }
}

/// The run's parameters, read once.
struct HedgingSetup: Sendable {
    let requests, hedgeAfterMs, intervalMs: Int
    let profile: SimulatedDependency.Profile

    init(_ parameters: ParameterSet) {
        requests = parameters.int("requests")
        hedgeAfterMs = parameters.int("hedge_after_ms")
        intervalMs = parameters.int("interval_ms")
        var profile = SimulatedDependency.Profile()
        profile.latencyMs = parameters.int("latency_ms")
        profile.jitterMs = parameters.int("jitter_ms")
        profile.slowMs = parameters.int("slow_ms")
        profile.slowPct = parameters.int("slow_pct")
        profile.seed = parameters.int("seed")
        self.profile = profile
    }
}
