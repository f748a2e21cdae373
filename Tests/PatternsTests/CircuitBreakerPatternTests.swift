@testable import Patterns
import TestSupport
import Testing

@Suite struct CircuitBreakerPatternTests {
    let pattern = CircuitBreakerPattern()

    @Test func defaults_openOnTheOutage_probe_reopen_andCloseAfterIt() async throws {
        let run = try await TestRun.execute(pattern)
        let moves = run.events(named: "breaker.transition").map { "\($0.data["from"]?.stringValue ?? "") -> \($0.data["to"]?.stringValue ?? "")" }
        #expect(moves == ["closed -> open", "open -> half-open", "half-open -> open", "open -> half-open", "half-open -> closed"])
        // Calls every 10 ms take 4 ms; the outage covers [150, 350). The fifth failure
        // (the call at 190) fills the window to 50 %; the first probes at 300-320 still fail.
        #expect(run.times(of: "breaker.transition") == [194, 300, 324, 430, 454])
        #expect(run.ints("breaker_state", in: "breaker.transition") == [2, 1, 2, 1, 0])
        #expect(run.result["rejected"] == 20)
        #expect(run.result["dependency_calls"] == 40)
        #expect(run.check("opened_within_window_of_outage")?.observed == 5)
        #expect(run.checkNames.count == 5)
        #expect(run.failedChecks.isEmpty)
    }

    @Test func whileOpen_callsFailFast_withoutReachingTheDependency() async throws {
        let run = try await TestRun.execute(pattern)
        let rejectedCalls = run.ints("task", in: "breaker.rejected")
        #expect(rejectedCalls == Array(20...29) + Array(33...42))
        let started = Set(run.ints("task", in: "call.started"))
        #expect(started.isDisjoint(with: rejectedCalls))
        #expect(run.ints("rejected", in: "breaker.rejected").last == 20)
    }

    @Test func aBreakerThatLetsCallsThroughWhileOpen_failsTheOpenCheck() async throws {
        let run = try await TestRun.execute(CircuitBreakerPattern(faults: .init(ignoresOpenState: true)))
        #expect(run.check("no_call_reached_dependency_while_open")?.passed == false)
    }

    @Test func aBreakerWithTooLongAWindow_opensTooLate() async throws {
        let broken = CircuitBreakerPattern(faults: .init(windowFactor: 2))
        let run = try await TestRun.execute(broken, ["failure_threshold_pct": 100, "outage_ms": 300, "calls": 80])
        #expect(run.check("opened_within_window_of_outage")?.observed == 20)
        #expect(run.check("opened_within_window_of_outage")?.passed == false)
    }

    @Test func aBreakerThatProbesEarly_failsTheOpenPeriodCheck() async throws {
        let run = try await TestRun.execute(CircuitBreakerPattern(faults: .init(openMsDivisor: 2)))
        #expect(run.check("half_open_after_open_ms")?.passed == false)
    }

    @Test func aBreakerThatNeverFinishesProbing_neverCloses() async throws {
        let run = try await TestRun.execute(CircuitBreakerPattern(faults: .init(probeFactor: 100)))
        #expect(run.check("closed_after_probes_succeeded")?.passed == false)
    }

    @Test func anImpossibleTransition_failsTheStateMachineCheck() {
        let setup = BreakerSetup(try! PatternCatalog().validate([:], for: pattern).get())
        let skip = CircuitBreaker.Transition(from: .closed, to: .halfOpen, atMs: 10, failureRatePct: nil)
        let audit = BreakerAudit(
            setup: setup, transitions: [.init(transition: skip, dependencyCalls: 1)],
            dependency: SimulatedDependency(.init()), startMs: 0)
        #expect(audit.checks.first { $0.name == "transitions_follow_state_machine" }?.passed == false)
    }

    @Test func anOutageTooShortForAWindowOfCalls_isNotHeldAgainstTheBreaker() async throws {
        // Five calls fail during a 50 ms outage: 5 of the window's 10 is under the 60 %
        // threshold, and a window's worth of calls never came, so no opening is owed.
        let run = try await TestRun.execute(pattern, ["outage_ms": 50, "failure_threshold_pct": 60])
        #expect(run.events(named: "breaker.transition").isEmpty)
        #expect(run.check("opened_within_window_of_outage") == nil)
        #expect(run.check("closed_after_probes_succeeded") == nil)
        #expect(run.failedChecks.isEmpty)
    }

    @Test func noOutage_theBreakerStaysClosed() async throws {
        let run = try await TestRun.execute(pattern, ["outage_ms": 0])
        #expect(run.events(named: "breaker.transition").isEmpty)
        #expect(run.result["dependency_calls"] == 60)
        #expect(run.checkNames == ["no_call_reached_dependency_while_open", "transitions_follow_state_machine"])
    }

    @Test func cancellingTheRun_stopsTheCalls() async throws {
        let run = try await TestRun.execute(pattern, cancelAt: .milliseconds(52))
        #expect(run.status == .cancelled)
        #expect(run.events(named: "call.started").count == 6)
    }
}
