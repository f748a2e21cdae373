import LabJSON

/// retry: clients retrying a contended dependency with exponential backoff and jitter,
/// after the AWS Architecture Blog's "Exponential Backoff And Jitter" (see `Backoff` for
/// the four formulas).
///
/// - Parameters: `jitter` (none | full | equal | decorrelated); `compare` plays all four on
///   the same seed, side by side, each against a dependency of its own; `clients`
///   (1...1,000) each want one successful call to a dependency of `capacity` (1...1,000)
///   whose calls take `latency_ms`; while more than `capacity` calls are in flight every
///   call in flight fails (`SimulatedDependency`). `base_ms`, `cap_ms` (cap >= base) and
///   `max_attempts` (1...20) shape the backoff; `seed` draws the jitter.
/// - Events, per client (capped): `task.started`; `retry.attempt` (strategy, client,
///   attempt, the arm's `in_flight_<strategy>` and `calls_<strategy>`); `retry.failed`
///   (why, the arm's in-flight count after it); `retry.backoff` (the drawn `sleep_ms` and its
///   bounds) before each retry; `retry.succeeded` or `retry.gave_up`; `task.finished`.
///   Milestone `retry.arm_finished` per strategy, with its calls and completion time.
/// - Cancellation: a client stops in its call or its backoff; the run ends `cancelled`.
/// - Checks: every sleep lies within its strategy's bounds (computed from the formula and
///   the retry number, not by the code that drew it); no client made more than
///   `max_attempts` attempts; with `compare`,
///   10 or more clients and more clients than capacity (contention), full jitter made
///   fewer calls than no jitter: the article's finding.
public struct RetryPattern: Pattern {
    /// How a deliberately broken retrier misbehaves, for tests that show the checks fail.
    struct Faults: Sendable {
        /// Every drawn sleep is multiplied by this.
        var sleepFactor = 1.0
        /// Attempts made beyond `max_attempts`.
        var extraAttempts = 0
    }

    public init() {
        faults = Faults()
    }

    init(faults: Faults) {
        self.faults = faults
    }

    let faults: Faults

    public let name = "retry"
    public let title = "Retry: exponential backoff with jitter"
    public let summary = "Clients contend for a dependency that fails every call while it is over capacity, and retry with exponential backoff: without jitter they retry in lockstep and collide again; with jitter they spread out and get through with fewer calls."
    public let asyncioEquivalent = "a retry loop around await call() with await asyncio.sleep(backoff) (AWS \"Exponential Backoff And Jitter\")"
    public let swiftEquivalent = "a retry loop with try await clock.sleep(for:) between attempts, one child task per client"
    public let swiftNote = "Cancellation ends a backoff sleep at once (it throws CancellationError), so a cancelled retrier never makes another attempt."
    public let invariants = [
        "every sleep within its strategy's bounds",
        "attempts <= max_attempts",
        "with compare and >= 10 contending clients: full jitter makes fewer calls than none",
    ]
    public let eventNames = ["retry.attempt", "retry.failed", "retry.backoff", "retry.call_ended", "retry.succeeded", "retry.gave_up", "retry.arm_finished"]
    public var counters: [CounterSpec] {
        Backoff.Jitter.allCases.flatMap { jitter in
            [
                CounterSpec("in_flight_\(jitter.rawValue)", "calls in flight (\(jitter.rawValue) jitter)"),
                CounterSpec("calls_\(jitter.rawValue)", "calls made (\(jitter.rawValue) jitter)"),
            ]
        }
    }

    public func parameters(limits: PatternLimits) -> [ParameterSpec] {
        let clients = min(1_000, limits.maxCount)
        return [
            .choice("jitter", default: "full", choices: Backoff.Jitter.allCases.map(\.rawValue), "The backoff's jitter strategy (ignored with compare)."),
            .boolean("compare", default: true, "Play all four strategies on the same seed, side by side."),
            .integer("clients", default: 20, min: 1, max: clients, "Clients, each wanting one successful call."),
            .integer("capacity", default: 8, min: 1, max: clients, "Calls the dependency serves at once; above it every call in flight fails."),
            .integer("latency_ms", default: 20, min: 1, max: limits.maxDelayMs, "How long a call takes."),
            .integer("base_ms", default: 10, min: 1, max: limits.maxDelayMs, "The backoff's base."),
            .integer("cap_ms", default: 160, min: 1, max: limits.maxDelayMs, "The backoff's cap (>= base_ms)."),
            .integer("max_attempts", default: 7, min: 1, max: 20, "Attempts per client, the first included."),
            .integer("seed", default: 42, min: 0, max: Int(Int32.max), "Seed for the jitter."),
        ]
    }

    public func crossCheck(_ parameters: ParameterSet) -> [FieldIssue] {
        guard parameters.int("cap_ms") < parameters.int("base_ms") else { return [] }
        return [FieldIssue(field: "cap_ms", message: "must be at least base_ms (\(parameters.int("base_ms")))")]
    }

    /// Every attempt failing after its latency and every sleep at its longest: the arms
    /// run side by side, so comparing costs no extra time.
    public func plannedDuration(_ parameters: ParameterSet) -> Duration {
        let attempts = parameters.int("max_attempts")
        let sleeps = (0..<max(0, attempts - 1)).reduce(0.0) { total, retry in
            total + Backoff.worstCaseMs(retry: retry, baseMs: parameters.int("base_ms"), capMs: parameters.int("cap_ms"))
        }
        let attemptsMade = attempts + faults.extraAttempts
        return .milliseconds(Int(sleeps * max(1, faults.sleepFactor)) + attemptsMade * parameters.int("latency_ms"))
    }

    public func run(_ parameters: ParameterSet, context: RunContext) async throws -> PatternOutcome {
        let setup = RetrySetup(parameters, faults: faults)
        context.recorder.setTotal(setup.clients * setup.strategies.count)
        let arms = try await withThrowingTaskGroup(of: RetryArm.Report.self) { group in
            for (index, jitter) in setup.strategies.enumerated() {
                group.addTask { try await RetryArm(jitter: jitter, index: index, setup: setup).run(context) }
            }
            var reports: [RetryArm.Report] = []
            for try await report in group { reports.append(report) }
            return reports.sorted { $0.index < $1.index }
        }
        return outcome(setup, arms)
    }

    private func outcome(_ setup: RetrySetup, _ arms: [RetryArm.Report]) -> PatternOutcome {
        let sleeps = arms.flatMap(\.sleeps)
        let outOfBounds = sleeps.count { !$0.withinBounds }
        let mostAttempts = arms.map(\.mostAttempts).max() ?? 0
        var checks: [Check] = [
            Check(
                name: "sleeps_within_bounds", expected: "0 of \(sleeps.count) sleeps outside their strategy's bounds",
                observed: .int(outOfBounds), passed: outOfBounds == 0),
            .atMost("attempts_within_max", observed: mostAttempts, limit: setup.maxAttempts),
        ]
        let byJitter = Dictionary(uniqueKeysWithValues: arms.map { ($0.jitter, $0) })
        if setup.compare, setup.clients >= 10, setup.clients > setup.capacity,
            let full = byJitter[.full], let none = byJitter[.none]
        {
            checks.append(
                Check(
                    name: "full_jitter_fewer_calls_than_none", expected: "< \(none.calls) (no jitter's calls)",
                    observed: .int(full.calls), passed: full.calls < none.calls))
        }
        var result: [String: JSONValue] = [
            "strategies": .object(Dictionary(uniqueKeysWithValues: arms.map { ($0.jitter.rawValue, $0.json) })),
            "sleeps": .int(sleeps.count), "sleeps_out_of_bounds": .int(outOfBounds),
            "most_attempts": .int(mostAttempts),
        ]
        for arm in arms { result["calls_\(arm.jitter.rawValue)"] = .int(arm.calls) }
        return PatternOutcome(result: result, checks: checks)
    }
}

/// The run's parameters, read once.
struct RetrySetup: Sendable {
    let strategies: [Backoff.Jitter]
    let compare: Bool
    let clients, capacity, latencyMs, baseMs, capMs, maxAttempts, seed: Int
    let faults: RetryPattern.Faults

    init(_ parameters: ParameterSet, faults: RetryPattern.Faults) {
        compare = parameters.bool("compare")
        strategies = compare ? Backoff.Jitter.allCases : [Backoff.Jitter(rawValue: parameters.string("jitter")) ?? .full]
        clients = parameters.int("clients")
        capacity = parameters.int("capacity")
        latencyMs = parameters.int("latency_ms")
        baseMs = parameters.int("base_ms")
        capMs = parameters.int("cap_ms")
        maxAttempts = parameters.int("max_attempts")
        seed = parameters.int("seed")
        self.faults = faults
    }
}
