import LabJSON

/// bulkhead: calls to a slow and a fast dependency through one shared permit pool, and
/// through a pool each (Polly's and resilience4j's Bulkhead), side by side in one run.
///
/// - Parameters: `slow_calls` (1...1,000) to a dependency taking `slow_ms`, all at the
///   start; `fast_calls` (1...1,000) to one taking `fast_ms`, one every `fast_interval_ms`
///   from `fast_interval_ms / 2`; `permits` (1...1,000) per dependency in the isolated arm,
///   twice that in the shared arm's one pool (the same total).
/// - Events, per call (capped): `task.started` on arrival; `bulkhead.queued` when no permit
///   is free; `bulkhead.acquired` and `bulkhead.released` (the pool's permits in use under
///   `shared_in_use`, `isolated_fast_in_use` or `isolated_slow_in_use`); `task.finished`.
/// - Cancellation: waiting calls leave their pool's queue, calls in flight stop.
/// - Checks: with isolated pools no fast call waited for a permit while slow calls held
///   part of its pool (the isolation itself; on a busy real clock fast calls may still queue
///   behind each other, which says nothing about the bulkhead); with the shared pool the fast calls' p95 latency is worse than
///   with isolated pools (when the slow calls alone fill the shared pool). Both arms'
///   latencies are in the result, side by side.
public struct BulkheadPattern: Pattern {
    /// How a deliberately broken run misbehaves, for tests that show the checks fail.
    struct Faults: Sendable {
        /// The isolated arm's two pools are secretly one.
        var leaksIsolation = false
        /// The shared arm secretly has a pool per dependency.
        var sharedIsIsolated = false
    }

    public init() {
        faults = Faults()
    }

    init(faults: Faults) {
        self.faults = faults
    }

    let faults: Faults

    public let name = "bulkhead"
    public let title = "Bulkhead: a permit pool per dependency"
    public let summary = "A slow dependency's calls fill a shared permit pool and the fast dependency's calls wait behind them; with a pool per dependency the fast calls keep their own latency. Both arms run side by side."
    public let asyncioEquivalent = "an asyncio.Semaphore per dependency instead of one for all (Polly/resilience4j Bulkhead)"
    public let swiftEquivalent = "an AsyncSemaphore per dependency (FIFO), one child task per call"
    public let invariants = [
        "isolated pools: no fast call waits behind a slow one",
        "one shared pool: the fast calls' p95 latency degrades",
    ]
    public let eventNames = ["bulkhead.queued", "bulkhead.acquired", "bulkhead.released"]
    public let counters = [
        CounterSpec("shared_in_use", "shared pool: permits in use"),
        CounterSpec("isolated_fast_in_use", "isolated fast pool: permits in use"),
        CounterSpec("isolated_slow_in_use", "isolated slow pool: permits in use"),
    ]

    public func parameters(limits: PatternLimits) -> [ParameterSpec] {
        let most = min(1_000, limits.maxCount)
        return [
            .integer("slow_calls", default: 12, min: 1, max: most, "Calls to the slow dependency, all at the start."),
            .integer("slow_ms", default: 200, min: 1, max: limits.maxDelayMs, "The slow dependency's latency."),
            .integer("fast_calls", default: 10, min: 1, max: most, "Calls to the fast dependency."),
            .integer("fast_ms", default: 10, min: 1, max: limits.maxDelayMs, "The fast dependency's latency."),
            .integer("fast_interval_ms", default: 20, min: 1, max: limits.maxDelayMs, "Time between fast calls."),
            .integer("permits", default: 4, min: 1, max: most, "Permits per dependency when isolated; the shared pool has twice as many."),
        ]
    }

    /// The slower arm's worst case: the isolated slow pool working through its calls, or
    /// every call through the shared pool at the slower latency after the last arrival.
    public func plannedDuration(_ parameters: ParameterSet) -> Duration {
        let setup = BulkheadSetup(parameters)
        let isolated = max(
            setup.slowCalls.dividedRoundingUp(by: setup.permits) * setup.slowMs,
            setup.lastFastArrivalMs + setup.fastCalls.dividedRoundingUp(by: setup.permits) * setup.fastMs)
        let shared =
            setup.lastFastArrivalMs
            + (setup.slowCalls + setup.fastCalls).dividedRoundingUp(by: 2 * setup.permits) * max(setup.slowMs, setup.fastMs)
        return .milliseconds(max(isolated, shared))
    }

    public func run(_ parameters: ParameterSet, context: RunContext) async throws -> PatternOutcome {
        let setup = BulkheadSetup(parameters)
        context.recorder.setTotal(2 * (setup.slowCalls + setup.fastCalls))
        let sharedPool = BulkheadPool(counter: "shared_in_use", permits: 2 * setup.permits)
        let sharedSlowPool = faults.sharedIsIsolated ? BulkheadPool(counter: "shared_in_use", permits: setup.permits) : sharedPool
        let fastPool = BulkheadPool(counter: "isolated_fast_in_use", permits: setup.permits)
        let slowPool = faults.leaksIsolation ? fastPool : BulkheadPool(counter: "isolated_slow_in_use", permits: setup.permits)
        let shared = BulkheadArm(name: "shared", index: 0, setup: setup, fastPool: sharedPool, slowPool: sharedSlowPool)
        let isolated = BulkheadArm(name: "isolated", index: 1, setup: setup, fastPool: fastPool, slowPool: slowPool)
        async let sharedReport = shared.run(context)
        async let isolatedReport = isolated.run(context)
        let (sharedCalls, isolatedCalls) = try await (sharedReport, isolatedReport)
        return outcome(setup, shared: sharedCalls, isolated: isolatedCalls)
    }

    private func outcome(_ setup: BulkheadSetup, shared: BulkheadArm.Report, isolated: BulkheadArm.Report) -> PatternOutcome {
        var checks: [Check] = [
            Check(
                name: "isolated_fast_calls_never_waited_behind_slow",
                expected: "0 of \(setup.fastCalls) fast calls waited while slow calls held their pool",
                observed: .int(isolated.fastQueuedBehindSlow), passed: isolated.fastQueuedBehindSlow == 0)
        ]
        if setup.slowCallsFillSharedPool {
            checks.append(
                Check(
                    name: "shared_pool_degrades_fast_p95",
                    expected: "> \(JSONValue.milliseconds(isolated.fastP95).serialized()) ms (isolated fast p95)",
                    observed: .milliseconds(shared.fastP95), passed: shared.fastP95 > isolated.fastP95))
        }
        return PatternOutcome(
            result: [
                "shared": shared.json, "isolated": isolated.json,
                "fast_p95_shared_ms": .milliseconds(shared.fastP95), "fast_p95_isolated_ms": .milliseconds(isolated.fastP95),
                "fast_ms": .int(setup.fastMs),
            ],
            checks: checks)
    }
}

/// The run's parameters, read once.
struct BulkheadSetup: Sendable {
    let slowCalls, slowMs, fastCalls, fastMs, fastIntervalMs, permits: Int

    init(_ parameters: ParameterSet) {
        slowCalls = parameters.int("slow_calls")
        slowMs = parameters.int("slow_ms")
        fastCalls = parameters.int("fast_calls")
        fastMs = parameters.int("fast_ms")
        fastIntervalMs = parameters.int("fast_interval_ms")
        permits = parameters.int("permits")
    }

    func fastArrivalMs(_ call: Int) -> Int { fastIntervalMs / 2 + call * fastIntervalMs }
    var lastFastArrivalMs: Int { fastArrivalMs(fastCalls - 1) }

    /// The slow calls alone take every shared permit for longer than a fast call takes.
    var slowCallsFillSharedPool: Bool { slowCalls >= 2 * permits && slowMs > fastMs + fastIntervalMs / 2 }
}
