import LabJSON
import Synchronization

/// The `circuit-breaker` run's breaker and dependency behind one lock: a permit and the
/// call's arrival at the dependency happen together, and every transition notes how many
/// calls the dependency had seen by then (its own count, not the breaker's).
final class BreakerGate: Sendable {
    /// A transition with the counts when it happened: calls that had reached the dependency
    /// (its own count), and outage failures fed to the breaker so far.
    struct LoggedTransition: Sendable {
        let transition: CircuitBreaker.Transition
        let dependencyCalls: Int
        var outageFailures = 0
    }

    private struct State {
        var breaker: CircuitBreaker
        var transitions: [LoggedTransition] = []
        var rejected = 0
        /// When each call asked the breaker: whether the run gave it the chance to act.
        var asks: [Double] = []
        /// Results fed to the breaker that were failures of the outage: a result answered
        /// but not yet fed (its task held up by a busy machine) is not counted.
        var outageFailuresFed = 0
        var succeeded = 0
        var failed = 0
    }

    /// A call refused by the open breaker: its span ends as an error.
    struct Rejected: Error, CustomStringConvertible {
        var description: String { "circuit open" }
    }

    /// The dependency's answer was a failure.
    struct Failed: Error, CustomStringConvertible {
        let reason: String
        var description: String { "dependency failed: \(reason)" }
    }

    let setup: BreakerSetup
    let dependency: SimulatedDependency
    private let ignoresOpenState: Bool
    private let state: Mutex<State>

    init(_ setup: BreakerSetup, faults: CircuitBreakerPattern.Faults) {
        self.setup = setup
        ignoresOpenState = faults.ignoresOpenState
        var profile = SimulatedDependency.Profile()
        profile.latencyMs = setup.latencyMs
        profile.outageStartMs = setup.outageStartMs
        profile.outageMs = setup.outageMs
        dependency = SimulatedDependency(profile)
        let breaker = CircuitBreaker(
            window: setup.window * faults.windowFactor, thresholdPct: setup.thresholdPct,
            openMs: setup.openMs / faults.openMsDivisor, probes: setup.probes * faults.probeFactor)
        state = Mutex(State(breaker: breaker))
    }

    func call(_ index: Int, _ context: RunContext) async throws {
        try await context.task(index, label: "call-\(index)") {
            let now = context.elapsedMs()
            let (started, transition, rejected) = state.withLock { state -> (SimulatedDependency.Call?, LoggedTransition?, Int) in
                state.asks.append(now)
                let (permitted, transition) = state.breaker.permit(atMs: now)
                let logged = transition.map { log($0, in: &state) }
                guard permitted || ignoresOpenState else {
                    state.rejected += 1
                    return (nil, logged, state.rejected)
                }
                return (dependency.start(key: index, clock: context.clock), logged, state.rejected)
            }
            if let transition { announce(transition, context) }
            guard let started else {
                context.emit("breaker.rejected", ["task": .int(index), "rejected": .int(rejected)])
                throw Rejected()
            }
            context.emit(
                "call.started", ["task": .int(index), "in_flight": .int(started.inFlight), "dependency_calls": .int(dependency.calls)])
            var left = 0
            let answer = try await dependency.finish(started, clock: context.clock) { left = $0 }
            try record(index, answer, inFlight: left, context)
        }
    }

    private func record(_ index: Int, _ answer: SimulatedDependency.Answer, inFlight: Int, _ context: RunContext) throws {
        let now = context.elapsedMs()
        let (transition, rate) = state.withLock { state -> (LoggedTransition?, Int) in
            if answer.succeeded { state.succeeded += 1 } else { state.failed += 1 }
            if answer.failure == .outage { state.outageFailuresFed += 1 }
            let transition = state.breaker.record(failed: !answer.succeeded, atMs: now).map { log($0, in: &state) }
            return (transition, state.breaker.failureRatePct)
        }
        let name = answer.succeeded ? "call.succeeded" : "call.failed"
        context.emit(name, ["task": .int(index), "in_flight": .int(inFlight), "failure_rate_pct": .int(rate)])
        if let transition { announce(transition, context) }
        if let failure = answer.failure { throw Failed(reason: failure.rawValue) }
    }

    private func log(_ transition: CircuitBreaker.Transition, in state: inout State) -> LoggedTransition {
        let logged = LoggedTransition(
            transition: transition, dependencyCalls: dependency.calls, outageFailures: state.outageFailuresFed)
        state.transitions.append(logged)
        return logged
    }

    private func announce(_ logged: LoggedTransition, _ context: RunContext) {
        let transition = logged.transition
        var data: [String: JSONValue] = [
            "from": .string(transition.from.name), "to": .string(transition.to.name),
            "breaker_state": .int(transition.to.rawValue), "dependency_calls": .int(logged.dependencyCalls),
        ]
        if let rate = transition.failureRatePct { data["failure_rate_pct"] = .int(rate) }
        context.recorder.milestone("breaker.transition", data)
    }

    func outcome(startMs: Double) -> PatternOutcome {
        let snapshot = state.withLock { $0 }
        let audit = BreakerAudit(
            setup: setup, transitions: snapshot.transitions, dependency: dependency, startMs: startMs, asks: snapshot.asks,
            outageFailuresFed: snapshot.outageFailuresFed)
        return PatternOutcome(
            result: [
                "calls": .int(setup.calls), "dependency_calls": .int(dependency.calls), "rejected": .int(snapshot.rejected),
                "succeeded": .int(snapshot.succeeded), "failed": .int(snapshot.failed),
                "breaker_state": .int(snapshot.breaker.state.rawValue), "final_state": .string(snapshot.breaker.state.name),
                "transitions": .array(snapshot.transitions.prefix(200).map(\.json)),
            ],
            checks: audit.checks)
    }
}

extension BreakerGate.LoggedTransition {
    var json: JSONValue {
        [
            "from": .string(transition.from.name), "to": .string(transition.to.name),
            "t_ms": .milliseconds(transition.atMs), "dependency_calls": .int(dependencyCalls),
        ]
    }
}
