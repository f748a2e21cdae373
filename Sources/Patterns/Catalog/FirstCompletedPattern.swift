import LabJSON

/// first-completed: race several tasks, keep the first result, cancel the rest.
///
/// - Parameters: `delays_ms` (up to 1,000 delays, each 0...maxDelayMs), or else `count`
///   (1...maxCount) tasks of `delay_ms` plus a jitter up to `jitter_ms` drawn from `seed`.
///   `delays_ms`, when given, replaces count, delay and jitter.
/// - Events: `task.started` per racer; `task.finished` for the winner; `race.won` (task
///   and delay); `task.cancelled` for each loser; `racer.ended` as each racer's end is
///   counted (per-task events capped); `progress`.
/// - Counters: `racers_completed` and `cancelled` racers, on `racer.ended`, each ending at
///   the figure of its name.
/// - Cancellation: cancelling the run cancels every racer; the run ends `cancelled`.
/// - Checks: the winner's delay is the least; every racer still running when the winner
///   was taken was cancelled, and none completed after that. Racers tied with the winner
///   may complete alongside it before the cancellation: they are reported, not failed,
///   as asyncio.wait would return them in `done`.
public struct FirstCompletedPattern: Pattern {
    public init() {}

    public let name = "first-completed"
    public let title = "First completed: race, keep the winner, cancel the rest"
    public let summary = "Starts several tasks with different delays, takes whichever finishes first and cancels the others, which stop without completing."
    public let asyncioEquivalent = "asyncio.wait(tasks, return_when=FIRST_COMPLETED), then cancel the pending"
    public let swiftEquivalent = "withTaskGroup: group.next() for the winner, then group.cancelAll()"
    public let swiftNote = "The group still awaits the cancelled losers before it returns (they cannot outlive it); in asyncio the pending tasks are merely asked to cancel and may still be running when wait() returns."
    public let invariants = [
        "the winner has the least delay",
        "every loser is cancelled and never completes",
    ]
    public let eventNames = ["race.won", "racer.ended"]
    public let counters = [CounterSpec("racers_completed", "racers completed"), CounterSpec("cancelled", "racers cancelled")]

    public func parameters(limits: PatternLimits) -> [ParameterSpec] {
        [
            .integerList(
                "delays_ms", default: nil, min: 0, max: limits.maxDelayMs, maxItems: min(1_000, limits.maxCount),
                "Each racer's delay; replaces count, delay_ms and jitter_ms."),
            .integer("count", default: 3, min: 1, max: limits.maxCount, "How many racers."),
            .integer("delay_ms", default: 100, min: 0, max: limits.maxDelayMs, "Every racer's base delay."),
            .integer("jitter_ms", default: 400, min: 0, max: limits.maxDelayMs, "Up to this much extra delay per racer, drawn from the seed."),
            .integer("seed", default: 42, min: 0, max: Int(Int32.max), "Seed for the jitter."),
        ]
    }

    public func plannedDuration(_ parameters: ParameterSet) -> Duration {
        .milliseconds(Racers(parameters).delays.min() ?? 0)
    }

    /// How the racers ended, decided under the same lock as the cancellation.
    struct Tally {
        var completed = 0
        var completedAfterCancel = 0
        var cancelled = 0
        var winnerTaken = false

        /// Announced under the tally's lock, so the counters reach the log in the order they took.
        func announce(_ index: Int, _ outcome: String, _ context: RunContext) {
            context.emit(
                "racer.ended",
                [
                    "task": .int(index), "outcome": .string(outcome), "racers_completed": .int(completed),
                    "cancelled": .int(cancelled),
                ])
        }
    }

    public func run(_ parameters: ParameterSet, context: RunContext) async throws -> PatternOutcome {
        let racers = Racers(parameters)
        context.recorder.setTotal(racers.count)
        let tally = Locked(Tally())
        let winner = await withTaskGroup(of: Int?.self) { group -> Int? in
            for index in 0..<racers.count {
                group.addTask { try? await race(index, delayMs: racers.delays[index], tally, context) }
            }
            let first = await group.next() ?? nil
            if let first {
                context.recorder.milestone("race.won", ["task": .int(first), "delay_ms": .int(racers.delays[first])])
            }
            tally.withLock { tally in
                tally.winnerTaken = true
                group.cancelAll()
            }
            return first
        }
        guard let winner else { throw CancellationError() }
        return outcome(winner: winner, racers: racers, tally: tally.value)
    }

    private func race(_ index: Int, delayMs: Int, _ tally: Locked<Tally>, _ context: RunContext) async throws -> Int {
        try await context.task(index) {
            do {
                try await context.sleep(ms: delayMs)
                try tally.withLock { tally in
                    if Task.isCancelled { throw CancellationError() }
                    if tally.winnerTaken { tally.completedAfterCancel += 1 }
                    tally.completed += 1
                    tally.announce(index, "completed", context)
                }
                return index
            } catch {
                tally.withLock { tally in
                    tally.cancelled += 1
                    tally.announce(index, "cancelled", context)
                }
                throw error
            }
        }
    }

    private func outcome(winner: Int, racers: Racers, tally: Tally) -> PatternOutcome {
        let least = racers.delays.min() ?? 0
        let alsoDone = tally.completed - tally.completedAfterCancel - 1
        let losersRunning = racers.count - 1 - alsoDone
        return PatternOutcome(
            result: [
                "winner": .int(winner), "winner_delay_ms": .int(racers.delays[winner]), "least_delay_ms": .int(least),
                "racers_completed": .int(tally.completed), "cancelled": .int(tally.cancelled),
                "completed_alongside_winner": .int(alsoDone),
                "completed_after_cancel": .int(tally.completedAfterCancel),
                "delays_ms": .array(racers.delays.prefix(100).map(JSONValue.int)),
            ],
            checks: [
                .equal("winner_has_least_delay", observed: racers.delays[winner], expected: least),
                .equal("losers_cancelled", observed: tally.cancelled, expected: losersRunning),
                .equal("no_loser_completed_after_cancel", observed: tally.completedAfterCancel, expected: 0),
            ])
    }
}

/// Each racer's delay: the list given, or the base delay plus a seeded jitter.
private struct Racers: Sendable {
    let delays: [Int]
    var count: Int { delays.count }

    init(_ parameters: ParameterSet) {
        if let listed = parameters.intList("delays_ms") {
            delays = listed
            return
        }
        let base = parameters.int("delay_ms")
        let jitter = parameters.int("jitter_ms")
        let seed = parameters.int("seed")
        delays = (0..<parameters.int("count")).map { base + SeededRandom.jitter(seed: seed, index: $0, maxJitter: jitter) }
    }
}
