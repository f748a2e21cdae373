import LabJSON

/// rate-limiter: a token bucket (`rate_per_s`, `burst`) in front of clients that call as
/// fast as they can; waiting calls are admitted first come, first served.
///
/// - Parameters: `rate_per_s` (1...10,000), `burst` (1...10,000); `clients` (1...1,000),
///   each making `calls_per_client` (1...10,000) calls at once (clients * calls <= 100,000),
///   so calls wait from the start and the limiter alone sets the pace.
/// - Events: `task.started` per call (capped; a call's span is its wait for admission);
///   `limiter.queued` (ticket, `waiting`); `limiter.admitted` (ticket, `tokens` left,
///   `waiting`, `admitted`); `task.finished`; `progress`.
/// - Cancellation: waiting calls leave; the dispatcher stops; the run ends `cancelled`.
/// - Checks, over what the limiter logged (the times its bucket was read at): in every
///   window of length w, admitted <= burst + rate * w (all windows, O(n)); calls admitted in
///   the order they queued; throughput at the rate: every time it looked while calls waited,
///   it admitted exactly when a token bucket of `rate_per_s` and `burst` replayed over the
///   same instants had a token, and otherwise asked to wake no later than that bucket's next
///   token. A late timer (a busy machine) costs throughput only through tokens the full
///   bucket could not keep: `tokens_lost_to_cap` and `latest_wakeup_ms` are figures beside
///   `throughput_per_s`.
public struct RateLimiterPattern: Pattern {
    public init() {
        faults = RateLimiterGate.Faults()
    }

    /// A deliberately broken limiter, for tests that show the checks fail.
    init(faults: RateLimiterGate.Faults) {
        self.faults = faults
    }

    let faults: RateLimiterGate.Faults

    public let name = "rate-limiter"
    public let title = "Rate limiter: a token bucket"
    public let summary = "Clients call as fast as they can through a token bucket: a burst goes through at once, then calls are admitted at the bucket's rate, in the order they arrived."
    public let asyncioEquivalent = "no asyncio equivalent: a token bucket with an asyncio.Queue of waiters (aiolimiter's AsyncLimiter)"
    public let swiftEquivalent = "a TokenBucket behind a Mutex, a FIFO of waiting calls and one dispatcher task sleeping on the run's clock"
    public let invariants = [
        "admitted <= burst + rate * w in every window of length w",
        "waiting calls served first come, first served",
        "throughput at the rate: every token the bucket had while calls waited was used at once",
    ]
    public let eventNames = ["limiter.queued", "limiter.admitted"]
    public let counters = [
        CounterSpec("tokens", "tokens in the bucket"),
        CounterSpec("waiting", "calls waiting for a token"),
        CounterSpec("admitted", "calls admitted"),
    ]

    public func parameters(limits: PatternLimits) -> [ParameterSpec] {
        [
            .integer("rate_per_s", default: 50, min: 1, max: 10_000, "Tokens added per second."),
            .integer("burst", default: 5, min: 1, max: 10_000, "The bucket's size: calls admitted at once after a quiet spell."),
            .integer("clients", default: 4, min: 1, max: min(1_000, limits.maxCount), "Clients calling at once."),
            .integer("calls_per_client", default: 10, min: 1, max: min(10_000, limits.maxCount), "Calls each client makes, all at once."),
        ]
    }

    public func crossCheck(_ parameters: ParameterSet) -> [FieldIssue] {
        guard parameters.int("clients") * parameters.int("calls_per_client") > 100_000 else { return [] }
        return [FieldIssue(field: "calls_per_client", message: "clients * calls_per_client must be at most 100000")]
    }

    public func plannedDuration(_ parameters: ParameterSet) -> Duration {
        let calls = parameters.int("clients") * parameters.int("calls_per_client")
        let paced = max(0, calls - parameters.int("burst"))
        return .milliseconds(paced * 1000 / parameters.int("rate_per_s"))
    }

    public func run(_ parameters: ParameterSet, context: RunContext) async throws -> PatternOutcome {
        let rate = parameters.int("rate_per_s")
        let burst = parameters.int("burst")
        let clients = parameters.int("clients")
        let callsPerClient = parameters.int("calls_per_client")
        context.recorder.setTotal(clients * callsPerClient)
        let gate = RateLimiterGate(ratePerS: rate, burst: burst, faults: faults)
        let admitted = Locked(0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await gate.dispatch(clock: context.clock) { admission, tokens, waiting in
                    let count = admitted.withLock { count -> Int in
                        count += 1
                        return count
                    }
                    context.emit(
                        "limiter.admitted",
                        ["ticket": .int(admission.ticket), "tokens": .double((tokens * 100).rounded() / 100),
                         "waiting": .int(waiting), "admitted": .int(count)])
                }
            }
            try await withThrowingTaskGroup(of: Void.self) { callers in
                for client in 0..<clients {
                    callers.addTask { try await calls(client, callsPerClient, gate, context) }
                }
                try await callers.waitForAll()
            }
            gate.finish()
            try await group.waitForAll()
        }
        return RateLimiterAudit(ratePerS: rate, burst: burst, admissions: gate.admissions, reads: gate.reads).outcome
    }

    private func calls(_ client: Int, _ count: Int, _ gate: RateLimiterGate, _ context: RunContext) async throws {
        try await withThrowingDiscardingTaskGroup { group in
            for call in 0..<count {
                group.addTask { try await self.call(client, call, count, gate, context) }
            }
        }
    }

    private func call(_ client: Int, _ call: Int, _ count: Int, _ gate: RateLimiterGate, _ context: RunContext) async throws {
        let task = client * count + call
        try await context.task(task, label: "client-\(client)-call-\(call)") {
            try await gate.acquire { ticket, waiting in
                context.emit(
                    "limiter.queued", ["task": .int(task), "ticket": .int(ticket), "client": .int(client), "waiting": .int(waiting)])
            }
        }
    }
}
