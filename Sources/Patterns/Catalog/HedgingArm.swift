import LabJSON

/// One side of a `hedging` run: every request against a dependency of its own, with or
/// without a hedge.
struct HedgingArm: Sendable {
    /// How the hedged requests' calls ended, decided under the lock that takes the winner.
    struct Tally: Sendable {
        var hedgesSent = 0
        var hedgeWins = 0
        var completedAlongside = 0
        var completedAfterWinner = 0
        /// Losers whose answer arrived as they were being cancelled: discarded, unused.
        var discarded = 0
    }

    /// One request's race: whether its winner has been taken, and how many of its calls
    /// answered before that (the winner, and a loser tied with it).
    private final class Race: Sendable {
        let state = Locked((winnerTaken: false, answeredBefore: 0))
    }

    let hedged: Bool
    let setup: HedgingSetup
    let cancelsLosers: Bool
    let dependency: SimulatedDependency
    private let counts = Locked(Tally())

    init(hedged: Bool, setup: HedgingSetup, cancelsLosers: Bool) {
        self.hedged = hedged
        self.setup = setup
        self.cancelsLosers = cancelsLosers
        dependency = SimulatedDependency(setup.profile)
    }

    var tally: Tally { counts.value }
    private var arm: String { hedged ? "hedged" : "plain" }
    private var inFlightKey: String { "in_flight_\(arm)" }

    /// Runs the requests, one every `interval_ms`; their latencies, in request order.
    func run(_ context: RunContext) async throws -> [Double] {
        let startMs = context.elapsedMs()
        return try await withThrowingTaskGroup(of: (Int, Double).self) { group in
            for request in 0..<setup.requests {
                let arrival = startMs + Double(request * setup.intervalMs)
                try await context.clock.sleep(until: .microseconds(Int((arrival * 1000).rounded())))
                group.addTask {
                    let id = (hedged ? setup.requests : 0) + request
                    return try await context.task(id, label: "\(arm)-\(request)") {
                        let start = context.elapsedMs()
                        if hedged { try await hedgedRequest(request, context) } else { _ = try await call(request, copy: 0, nil, context) }
                        return (request, context.elapsedMs() - start)
                    }
                }
            }
            var latencies = [Double](repeating: 0, count: setup.requests)
            for try await (request, latency) in group { latencies[request] = latency }
            return latencies
        }
    }

    /// The first call, and a copy after `hedge_after_ms` unless the first has answered:
    /// the first answer wins and the other call is cancelled.
    private func hedgedRequest(_ request: Int, _ context: RunContext) async throws {
        let race = Race()
        try await withThrowingTaskGroup(of: Int.self) { group in
            group.addTask { try await call(request, copy: 0, race, context) }
            group.addTask {
                try await context.sleep(ms: setup.hedgeAfterMs)
                let sent = counts.withLock { tally -> Int in
                    tally.hedgesSent += 1
                    return tally.hedgesSent
                }
                context.emit("hedge.sent", ["task": .int(setup.requests + request), "request": .int(request), "hedges_sent": .int(sent)])
                return try await call(request, copy: 1, race, context)
            }
            guard let winner = try await group.next() else { return }
            context.emit("hedge.won", ["task": .int(setup.requests + request), "request": .int(request), "copy": .int(winner)])
            race.state.withLock { race in
                race.winnerTaken = true
                let alongside = race.answeredBefore - 1
                counts.withLock { tally in
                    if winner == 1 { tally.hedgeWins += 1 }
                    tally.completedAlongside += alongside
                }
                if cancelsLosers { group.cancelAll() }
            }
            // The loser's end (cancelled, or answered when it is not cancelled) is awaited
            // here: a request never outlives its race.
            while !group.isEmpty { _ = try? await group.next() }
        }
    }

    /// One call to the dependency; `copy` 0 is the first, 1 the hedge (its own latency).
    private func call(_ request: Int, copy: Int, _ race: Race?, _ context: RunContext) async throws -> Int {
        let arm = JSONValue.string(arm)
        let task = JSONValue.int((hedged ? setup.requests : 0) + request)
        do {
            _ = try await dependency.call(
                key: request * 2 + copy, clock: context.clock,
                onStart: { call in
                    context.emit("call.started", ["task": task, "arm": arm, "request": .int(request), "copy": .int(copy), inFlightKey: .int(call.inFlight)])
                },
                onEnd: { left in
                    context.emit("call.ended", ["task": task, "arm": arm, "request": .int(request), "copy": .int(copy), inFlightKey: .int(left)])
                })
        } catch {
            context.emit("call.cancelled", ["task": task, "arm": arm, "request": .int(request), "copy": .int(copy)])
            throw error
        }
        // Decided under the lock that takes the winner and cancels the losers: an answer
        // that arrives once the winner is taken belongs to a cancelled loser and is dropped;
        // only a loser nobody cancelled can answer after the winner.
        let dropped = race?.state.withLock { race -> Bool in
            guard race.winnerTaken else {
                race.answeredBefore += 1
                return false
            }
            if Task.isCancelled { return true }
            counts.withLock { $0.completedAfterWinner += 1 }
            return false
        }
        if dropped == true {
            counts.withLock { $0.discarded += 1 }
            context.emit("call.cancelled", ["task": task, "arm": arm, "request": .int(request), "copy": .int(copy)])
            throw CancellationError()
        }
        return copy
    }
}
