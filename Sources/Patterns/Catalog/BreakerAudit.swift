/// The `circuit-breaker` run's checks, computed from the dependency's own call log and
/// the transitions the breaker made (with the dependency's count at each).
struct BreakerAudit {
    let setup: BreakerSetup
    let transitions: [BreakerGate.LoggedTransition]
    let dependency: SimulatedDependency
    let startMs: Double
    /// When each call asked the breaker.
    var asks: [Double] = []
    /// Outage failures fed to the breaker over the run.
    var outageFailuresFed = 0

    var checks: [Check] {
        var checks: [Check] = []
        if openingWasDue { checks.append(openedWithinWindow) }
        checks.append(noCallWhileOpen)
        if let halfOpen = halfOpenAfterOpenMs { checks.append(halfOpen) }
        if recoveryWasDue { checks.append(closedAfterRecovery) }
        checks.append(transitionsValid)
        return checks
    }

    private var outageStartMs: Double { startMs + Double(setup.outageStartMs) }
    private var outageEndMs: Double { startMs + Double(setup.outageEndMs) }

    /// A window's worth of calls asked during the outage: unless it opened first, each of
    /// them reached the dependency and failed, so the breaker had to open. Judged from when
    /// calls really came, not from the schedule: a busy machine can delay them past it.
    private var openingWasDue: Bool {
        asks.count { $0 >= outageStartMs && $0 < outageEndMs } >= setup.window
    }

    /// After the last opening, enough calls asked once the breaker could probe and the
    /// outage was over for the probes to run on a healthy dependency: it had to close.
    private var recoveryWasDue: Bool {
        guard openingWasDue, let lastOpen = transitions.last(where: { $0.transition.to == .open }) else { return false }
        let from = max(lastOpen.transition.atMs + Double(setup.openMs), outageEndMs)
        return asks.count { $0 >= from } >= setup.probes
    }

    /// Outage failures fed to the breaker when it first opened. Calls still in flight then do
    /// not count: a count-based window sees results, not calls, and on a busy real clock more
    /// calls can start (and answer) before their failures reach it.
    private var openedWithinWindow: Check {
        let firstOpen = transitions.first { $0.transition.to == .open && $0.transition.atMs >= outageStartMs }
        let answered = firstOpen?.outageFailures ?? outageFailuresFed
        return Check(
            name: "opened_within_window_of_outage",
            expected: "opened, after <= \(setup.window) failed calls of the outage", observed: .int(answered),
            passed: firstOpen != nil && answered <= setup.window)
    }

    /// Calls the dependency counted between each opening and the transition after it.
    private var noCallWhileOpen: Check {
        var reached = 0
        for (index, logged) in transitions.enumerated() where logged.transition.to == .open {
            let end = index + 1 < transitions.count ? transitions[index + 1].dependencyCalls : dependency.calls
            reached += end - logged.dependencyCalls
        }
        return .equal("no_call_reached_dependency_while_open", observed: reached, expected: 0)
    }

    /// The shortest time the breaker stayed open before going half-open.
    private var halfOpenAfterOpenMs: Check? {
        let waits = zip(transitions, transitions.dropFirst()).compactMap { open, next -> Double? in
            guard open.transition.to == .open, next.transition.to == .halfOpen else { return nil }
            return next.transition.atMs - open.transition.atMs
        }
        guard let shortest = waits.min() else { return nil }
        return .atLeastMs("half_open_after_open_ms", observedMs: shortest, minimumMs: Double(setup.openMs), "shortest open period")
    }

    private var closedAfterRecovery: Check {
        let closed = transitions.contains {
            $0.transition.from == .halfOpen && $0.transition.to == .closed && $0.transition.atMs >= outageEndMs
        }
        return .isTrue("closed_after_probes_succeeded", closed, expected: "half-open -> closed after the outage ended")
    }

    /// Starts closed; each transition leaves the state the previous one entered, along an
    /// edge of the state machine.
    private var transitionsValid: Check {
        var current = CircuitBreaker.State.closed
        var invalid = 0
        for logged in transitions {
            let edge = (logged.transition.from, logged.transition.to)
            let allowed: Bool =
                switch edge {
                case (.closed, .open), (.open, .halfOpen), (.halfOpen, .open), (.halfOpen, .closed): true
                default: false
                }
            if logged.transition.from != current || !allowed { invalid += 1 }
            current = logged.transition.to
        }
        return Check(
            name: "transitions_follow_state_machine", expected: "0 invalid of \(transitions.count) transitions",
            observed: .int(invalid), passed: invalid == 0)
    }
}
