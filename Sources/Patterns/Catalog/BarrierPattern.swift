/// barrier: parties work in phases and wait for each other at the end of every phase.
///
/// - Parameters: `parties` (1...maxCount) tasks; `phases` (1...1,000); each party works
///   `work_ms` plus a jitter up to `jitter_ms` drawn from `seed` (0...maxDelayMs each) before
///   it arrives at the barrier; `fail_party` (-1 for none) fails in phase `fail_phase`
///   after its work, breaking the barrier (`abort()`) as an asyncio party would in its
///   except block.
/// - Events: per party and phase (capped): `barrier.arrived` (task, phase, `waiting`), then
///   `barrier.passed` (task, phase, arrival index); `barrier.phase_opened` when a phase's last
///   party arrives (`phases_opened`); with a failure: `barrier.aborted` (the failing party) and
///   `barrier.broken` per party that gets the broken-barrier error; `task.finished` /
///   `task.failed`.
/// - Cancellation: waiting parties leave the barrier; the run ends `cancelled`.
/// - Checks: no party passed phase k before every party had arrived at it; without a
///   failure, every party passed every phase; with one, every other party got the
///   broken-barrier error and nobody passed the failing phase. (Parties still waiting one
///   work period after another party ended, as they would forever when a party fails
///   without `abort()`, are stopped and counted as stuck.)
public struct BarrierPattern: Pattern {
    /// Ways to break one guarantee each, so tests can show that its check fails.
    enum Fault: Sendable {
        /// The barrier opens one party short.
        case opensOneShort
        /// The failing party does not abort the barrier.
        case failsWithoutAbort
        /// Party 0 quits after the first phase.
        case partyQuitsEarly
    }

    let fault: Fault?

    public init() { fault = nil }
    init(fault: Fault?) { self.fault = fault }

    public let name = "barrier"
    public let title = "Barrier: nobody starts the next phase until everybody finished this one"
    public let summary = "Parties work in phases of different lengths and wait at a barrier at the end of each; it opens when the last one arrives. A party that fails breaks the barrier, and the others get an error instead of waiting forever."
    public let asyncioEquivalent = "barrier = asyncio.Barrier(parties); await barrier.wait(); await barrier.abort()"
    public let swiftEquivalent = "AsyncBarrier: a Mutex, a round counter and the waiters' continuations, resumed together"
    public let swiftNote = "Swift has no async barrier. This one resumes every waiting party at once when the last arrives, and abort() resumes them with BrokenBarrierError. A cancelled party leaves its round, as in asyncio (threading.Barrier would break instead)."
    public let invariants = [
        "no party passes phase k before every party arrived at it",
        "without a failure, every party passes every phase",
        "a party that fails breaks the barrier: the others get the broken-barrier error, nobody passes that phase",
    ]
    public let eventNames = ["barrier.arrived", "barrier.phase_opened", "barrier.passed", "barrier.aborted", "barrier.broken"]
    public let counters = [
        CounterSpec("waiting", "parties waiting at the barrier"),
        CounterSpec("phases_opened", "phases opened"),
    ]

    public func parameters(limits: PatternLimits) -> [ParameterSpec] {
        [
            .integer("parties", default: 3, min: 1, max: limits.maxCount, "How many tasks take part."),
            .integer("phases", default: 3, min: 1, max: 1_000, "How many phases each party works through."),
            .integer("work_ms", default: 50, min: 0, max: limits.maxDelayMs, "Each party's work per phase."),
            .integer("jitter_ms", default: 100, min: 0, max: limits.maxDelayMs, "Up to this much extra work per party and phase, drawn from the seed."),
            .integer("seed", default: 42, min: 0, max: Int(Int32.max), "Seed for the jitter."),
            .integer("fail_party", default: -1, min: -1, max: limits.maxCount - 1, "The party that fails; -1 for none."),
            .integer("fail_phase", default: 1, min: 0, max: 999, "The phase in which it fails."),
        ]
    }

    public func crossCheck(_ parameters: ParameterSet) -> [FieldIssue] {
        var issues: [FieldIssue] = []
        if parameters.int("fail_party") >= parameters.int("parties") {
            issues.append(FieldIssue(field: "fail_party", message: "must be -1 (no failure) or less than parties (\(parameters.int("parties")))"))
        }
        if parameters.int("fail_party") >= 0 && parameters.int("fail_phase") >= parameters.int("phases") {
            issues.append(FieldIssue(field: "fail_phase", message: "must be less than phases (\(parameters.int("phases")))"))
        }
        return issues
    }

    public func plannedDuration(_ parameters: ParameterSet) -> Duration {
        let phase = parameters.int("work_ms") + parameters.int("jitter_ms")
        return .milliseconds(parameters.int("phases") * phase + (parameters.int("fail_party") >= 0 ? phase : 0))
    }

    public func run(_ parameters: ParameterSet, context: RunContext) async throws -> PatternOutcome {
        let setup = BarrierSetup(parameters)
        context.recorder.setTotal(setup.parties)
        let barrier = AsyncBarrier(parties: fault == .opensOneShort ? max(1, setup.parties - 1) : setup.parties)
        let tally = Locked(BarrierTally(phases: setup.phases))
        let oneEnded = AsyncEvent()
        let allEnded = AsyncEvent()
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for party in 0..<setup.parties {
                group.addTask {
                    await runParty(party, setup, barrier, tally, oneEnded, allEnded, context)
                    return false
                }
            }
            group.addTask { try await watchForStuckParties(setup, oneEnded, allEnded, context) }
            for try await stuck in group where stuck {
                tally.withLock { $0.stopping = true }
                group.cancelAll()
            }
        }
        try Task.checkCancellation()
        return outcome(setup, tally.value)
    }
}
