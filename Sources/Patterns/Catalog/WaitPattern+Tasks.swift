import LabJSON

/// A wait run's parameters, read once.
struct WaitSetup: Sendable {
    let delays: [Int]
    let failing: Set<Int>
    let rule: String
    let timeoutMs: Int?
    let cancelPending: Bool
    var count: Int { delays.count }

    init(_ parameters: ParameterSet) {
        delays = parameters.intList("delays_ms") ?? []
        failing = Set(parameters.intList("fail_indices") ?? [])
        rule = parameters.string("return_when")
        timeoutMs = parameters.optionalInt("timeout_ms")
        cancelPending = parameters.bool("cancel_pending")
    }

    /// Whether the rule holds once these tasks ended (with whether each raised).
    func ruleHolds(ended: Int, raised: Int) -> Bool {
        switch rule {
        case "FIRST_COMPLETED": ended > 0
        case "FIRST_EXCEPTION": raised > 0 || ended == count
        default: ended == count
        }
    }
}

/// The tasks' ends and the caller's return, under one lock.
struct WaitState: Sendable {
    enum Outcome: String, Sendable { case returned, raised, cancelled }

    var ends: [Int: (outcome: Outcome, ms: Double)] = [:]
    var returned: (ms: Double, done: [Int], timedOut: Bool)?

    init(count: Int) {}

    var raised: Int { ends.values.count { $0.outcome == .raised } }
}

extension WaitPattern {
    /// One task: returns or raises at its delay; its end is recorded and may meet the rule.
    func runTask(_ index: Int, _ setup: WaitSetup, _ state: Locked<WaitState>, _ ruleMet: AsyncEvent, _ context: RunContext) async {
        var outcome = WaitState.Outcome.returned
        do {
            try await context.task(index) {
                try await context.sleep(ms: setup.delays[index])
                if setup.failing.contains(index) { throw InjectedFailure(task: index) }
            }
        } catch is InjectedFailure {
            outcome = .raised
        } catch {
            outcome = .cancelled
        }
        let now = context.elapsedMs()
        let (done, met) = state.withLock { state -> (Int, Bool) in
            state.ends[index] = (outcome, now)
            let met = state.returned == nil && setup.ruleHolds(ended: state.ends.count, raised: state.raised)
            return (state.ends.count, met)
        }
        context.emit("wait.task_done", ["task": .int(index), "outcome": .string(outcome.rawValue), "tasks_done": .int(done)])
        if met && fault != .returnsAfterAll || done == setup.count { ruleMet.set() }
    }

    /// The caller: `await asyncio.wait(...)` until the rule is met or the timeout passes,
    /// then (done, pending) as they are at that moment.
    func waitForRule(_ setup: WaitSetup, _ state: Locked<WaitState>, _ ruleMet: AsyncEvent, _ context: RunContext) async throws {
        var timedOut = false
        if let timeoutMs = setup.timeoutMs {
            do {
                let ms = fault == .timeoutFiresEarly ? timeoutMs / 2 : timeoutMs
                try await context.clock.withTimeout(.milliseconds(ms)) { try await ruleMet.wait() }
            } catch is PatternTimeoutError {
                timedOut = true
            }
        } else {
            try await ruleMet.wait()
        }
        let now = context.elapsedMs()
        let done = state.withLock { state -> [Int] in
            let done = state.ends.keys.sorted()
            state.returned = (now, done, timedOut)
            return done
        }
        let pending = (0..<setup.count).filter { !done.contains($0) }
        context.recorder.milestone(
            "wait.returned",
            [
                "done": .array(done.prefix(100).map(JSONValue.int)), "pending": .array(pending.prefix(100).map(JSONValue.int)),
                "why": .string(timedOut ? "timeout" : setup.rule),
            ])
    }
}
