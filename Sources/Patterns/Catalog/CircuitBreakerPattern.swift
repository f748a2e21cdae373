/// circuit-breaker: a breaker (closed, open, half-open over a count-based sliding window,
/// as resilience4j's CircuitBreaker defines them; see `CircuitBreaker`) in front of a
/// dependency that has an outage.
///
/// - Parameters: `calls` (1...10,000) arrive every `interval_ms`; each takes `latency_ms`;
///   calls starting in the outage (`outage_start_ms`, `outage_ms`) fail. The breaker:
///   `window` (1...1,000 results), `failure_threshold_pct` (1...100), `open_ms`,
///   `half_open_probes` (1...100).
/// - Events, per call (capped): `task.started`; `breaker.rejected` (a fast failure, with
///   `rejected`) or `call.started` (with `in_flight`, `dependency_calls`) and then
///   `call.succeeded` or `call.failed` (with `in_flight`, `failure_rate_pct`);
///   `task.finished` or `task.failed`. Milestone `breaker.transition` (from, to, the rate
///   that decided it, `breaker_state`: 0 closed, 1 half-open, 2 open) at every change.
/// - Cancellation: calls in flight stop; calls not yet arrived never start.
/// - Checks, from the dependency's own counts against the breaker's transitions: it opened
///   once at most `window` calls had failed in the outage (when a window's worth of calls
///   came during it);
///   no call reached the dependency while it was open; it went half-open only after
///   `open_ms`; it closed again after the outage once probes succeeded (when enough calls
///   came after the last opening's `open_ms` and the outage's end); every transition follows the state machine.
public struct CircuitBreakerPattern: Pattern {
    /// How a deliberately broken breaker misbehaves, for tests that show the checks fail.
    /// The factors scale what the breaker is built with; the checks keep the parameters.
    struct Faults: Sendable {
        var ignoresOpenState = false
        var windowFactor = 1
        var openMsDivisor = 1
        var probeFactor = 1
    }

    public init() {
        faults = Faults()
    }

    init(faults: Faults) {
        self.faults = faults
    }

    let faults: Faults

    public let name = "circuit-breaker"
    public let title = "Circuit breaker: stop calling a failing dependency"
    public let summary = "A breaker counts the failures of the last calls; when too many fail it opens and fails calls at once without calling the dependency, then lets a few probes through to see whether it has recovered."
    public let asyncioEquivalent = "no asyncio equivalent: a state machine around await call() (resilience4j CircuitBreaker, count-based sliding window)"
    public let swiftEquivalent = "a CircuitBreaker value behind a Mutex, consulted before each call; one child task per call"
    public let swiftNote = "The breaker is a value type behind one lock: asking for a permit and starting the call happen atomically, so no call can slip past a breaker that is opening."
    public let invariants = [
        "opens within window calls of the outage's start",
        "no call reaches the dependency while open (fast failures counted)",
        "half-open only after open_ms",
        "closed again after the probes succeed",
        "every transition is an event, in the state machine's order",
    ]
    public let eventNames = ["breaker.transition", "breaker.rejected", "call.started", "call.succeeded", "call.failed"]
    public let counters = [
        CounterSpec("breaker_state", "breaker state (0 closed, 1 half-open, 2 open)"),
        CounterSpec("rejected", "fast failures"),
        CounterSpec("dependency_calls", "calls that reached the dependency"),
        CounterSpec("in_flight", "calls in flight at the dependency"),
    ]

    public func parameters(limits: PatternLimits) -> [ParameterSpec] {
        let longest = Int(limits.maxPlannedDuration.milliseconds)
        return [
            .integer("calls", default: 60, min: 1, max: min(10_000, limits.maxCount), "Calls made, one every interval_ms."),
            .integer("interval_ms", default: 10, min: 1, max: limits.maxDelayMs, "Time between calls."),
            .integer("latency_ms", default: 4, min: 1, max: limits.maxDelayMs, "How long a call takes."),
            .integer("outage_start_ms", default: 150, min: 0, max: longest, "When the dependency's outage begins."),
            .integer("outage_ms", default: 200, min: 0, max: longest, "How long it lasts; calls starting in it fail."),
            .integer("window", default: 10, min: 1, max: 1_000, "Results in the sliding window."),
            .integer("failure_threshold_pct", default: 50, min: 1, max: 100, "Failure rate that opens the breaker."),
            .integer("open_ms", default: 100, min: 1, max: limits.maxDelayMs, "How long it stays open before probing."),
            .integer("half_open_probes", default: 3, min: 1, max: 100, "Calls let through when half-open."),
        ]
    }

    public func plannedDuration(_ parameters: ParameterSet) -> Duration {
        .milliseconds((parameters.int("calls") - 1) * parameters.int("interval_ms") + parameters.int("latency_ms"))
    }

    public func run(_ parameters: ParameterSet, context: RunContext) async throws -> PatternOutcome {
        let setup = BreakerSetup(parameters)
        context.recorder.setTotal(setup.calls)
        let gate = BreakerGate(setup, faults: faults)
        let startMs = context.elapsedMs()
        try await withThrowingDiscardingTaskGroup { group in
            for index in 0..<setup.calls {
                try await context.clock.sleep(until: .microseconds(Int(startMs * 1000)) + .milliseconds(index * setup.intervalMs))
                group.addTask { try? await gate.call(index, context) }
            }
        }
        return gate.outcome(startMs: startMs)
    }
}

/// The run's parameters, read once.
struct BreakerSetup: Sendable {
    let calls, intervalMs, latencyMs, outageStartMs, outageMs, window, thresholdPct, openMs, probes: Int

    init(_ parameters: ParameterSet) {
        calls = parameters.int("calls")
        intervalMs = parameters.int("interval_ms")
        latencyMs = parameters.int("latency_ms")
        outageStartMs = parameters.int("outage_start_ms")
        outageMs = parameters.int("outage_ms")
        window = parameters.int("window")
        thresholdPct = parameters.int("failure_threshold_pct")
        openMs = parameters.int("open_ms")
        probes = parameters.int("half_open_probes")
    }

    var outageEndMs: Int { outageStartMs + outageMs }
}
