/// A barrier run's parameters, read once.
struct BarrierSetup: Sendable {
    let parties, phases, workMs, jitterMs, seed, failParty, failPhase: Int

    init(_ parameters: ParameterSet) {
        parties = parameters.int("parties")
        phases = parameters.int("phases")
        workMs = parameters.int("work_ms")
        jitterMs = parameters.int("jitter_ms")
        seed = parameters.int("seed")
        failParty = parameters.int("fail_party")
        failPhase = parameters.int("fail_phase")
    }

    func work(_ party: Int, _ phase: Int) -> Int {
        workMs + SeededRandom.jitter(seed: seed, index: party * phases + phase, maxJitter: jitterMs)
    }
}

/// What a barrier run observed, under one lock.
struct BarrierTally: Sendable {
    /// Parties that arrived at each phase.
    var arrivals: [Int]
    var passes = 0
    /// Passes of a phase at a moment when fewer than every party had arrived at it.
    var earlyPasses = 0
    var passesFromFailingPhase = 0
    var broken = 0
    var stuck = 0
    var ended = 0
    var waiting = 0
    var phasesOpened = 0
    var stopping = false

    init(phases: Int) {
        arrivals = [Int](repeating: 0, count: phases)
    }
}

extension BarrierPattern {
    /// One party: work, arrive, wait, phase after phase; it fails, or is broken, or stuck.
    func runParty(
        _ party: Int, _ setup: BarrierSetup, _ barrier: AsyncBarrier, _ tally: Locked<BarrierTally>, _ oneEnded: AsyncEvent,
        _ allEnded: AsyncEvent, _ context: RunContext
    ) async {
        defer {
            oneEnded.set()
            if tally.withLock({ tally -> Bool in
                tally.ended += 1
                return tally.ended == setup.parties
            }) { allEnded.set() }
        }
        do {
            try await context.task(party, label: "party-\(party)") {
                for phase in 0..<setup.phases {
                    try await context.sleep(ms: setup.work(party, phase))
                    if party == setup.failParty && phase == setup.failPhase {
                        if fault != .failsWithoutAbort { barrier.abort() }
                        context.emit("barrier.aborted", ["task": .int(party), "phase": .int(phase)])
                        throw InjectedFailure(task: party)
                    }
                    try await pass(phase, as: party, setup, barrier, tally, context)
                    if fault == .partyQuitsEarly && party == 0 { return }
                }
            }
        } catch is BrokenBarrierError {
            let waiting = tally.withLock { tally -> Int in
                tally.broken += 1
                return tally.waiting
            }
            context.emit("barrier.broken", ["task": .int(party), "waiting": .int(waiting)])
        } catch is CancellationError {
            tally.withLock { if $0.stopping { $0.stuck += 1 } }
        } catch {}
    }

    /// Arrives at the barrier for `phase` and waits for it to open.
    private func pass(
        _ phase: Int, as party: Int, _ setup: BarrierSetup, _ barrier: AsyncBarrier, _ tally: Locked<BarrierTally>,
        _ context: RunContext
    ) async throws {
        let (waiting, last) = tally.withLock { tally -> (Int, Bool) in
            tally.arrivals[phase] += 1
            tally.waiting += 1
            return (tally.waiting, tally.arrivals[phase] == setup.parties)
        }
        context.emit("barrier.arrived", ["task": .int(party), "phase": .int(phase), "waiting": .int(waiting)])
        if last {
            let opened = tally.withLock { tally -> Int in
                tally.phasesOpened += 1
                return tally.phasesOpened
            }
            context.recorder.milestone("barrier.phase_opened", ["phase": .int(phase), "phases_opened": .int(opened)])
        }
        let index: Int
        do {
            index = try await barrier.wait()
        } catch {
            tally.withLock { $0.waiting -= 1 }
            throw error
        }
        let left = tally.withLock { tally -> Int in
            tally.waiting -= 1
            tally.passes += 1
            if tally.arrivals[phase] < setup.parties { tally.earlyPasses += 1 }
            if setup.failParty >= 0 && phase >= setup.failPhase { tally.passesFromFailingPhase += 1 }
            return tally.waiting
        }
        context.emit("barrier.passed", ["task": .int(party), "phase": .int(phase), "index": .int(index), "waiting": .int(left)])
    }

    /// Once a party ended (done, failed or broken), gives the others one work period (plus
    /// its jitter) to end too; true when some are still waiting then (stuck at a barrier that
    /// will never open).
    func watchForStuckParties(_ setup: BarrierSetup, _ oneEnded: AsyncEvent, _ allEnded: AsyncEvent, _ context: RunContext)
        async throws -> Bool
    {
        try await oneEnded.wait()
        do {
            try await context.clock.withTimeout(.milliseconds(setup.workMs + setup.jitterMs + 1)) { try await allEnded.wait() }
            return false
        } catch is PatternTimeoutError {
            return true
        }
    }

    func outcome(_ setup: BarrierSetup, _ tally: BarrierTally) -> PatternOutcome {
        var checks: [Check] = [
            Check(
                name: "no_party_passes_before_all_arrive",
                expected: "0 passes of a phase before all \(setup.parties) parties arrived at it",
                observed: .int(tally.earlyPasses), passed: tally.earlyPasses == 0)
        ]
        if setup.failParty >= 0 {
            let others = setup.parties - 1
            checks.append(
                Check(
                    name: "failure_breaks_the_barrier",
                    expected: "\(others) others broken, 0 passes of phase \(setup.failPhase) or later",
                    observed: .string("\(tally.broken) broken, \(tally.stuck) stuck, \(tally.passesFromFailingPhase) passes"),
                    passed: tally.broken == others && tally.passesFromFailingPhase == 0))
        } else {
            checks.append(.equal("every_party_passes_every_phase", observed: tally.passes, expected: setup.parties * setup.phases))
        }
        return PatternOutcome(
            result: [
                "parties": .int(setup.parties), "phases": .int(setup.phases), "passes": .int(tally.passes),
                "phases_opened": .int(tally.phasesOpened), "early_passes": .int(tally.earlyPasses),
                "broken": .int(tally.broken), "stuck": .int(tally.stuck),
                "failed_party": setup.failParty >= 0 ? .int(setup.failParty) : .null,
            ],
            checks: checks)
    }
}
