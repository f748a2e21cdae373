import Patterns
import TestSupport
import Testing

@Suite struct PeriodicPatternTests {
    let pattern = PeriodicPattern()

    @Test func fixedRate_ticksEveryInterval_untilCancelled() async throws {
        let run = try await TestRun.execute(
            pattern, ["interval_ms": 100, "duration_ms": 550, "work_ms": 10, "schedule": "fixed_rate"])
        #expect(run.times(of: "tick") == [0, 100, 200, 300, 400, 500])
        #expect(run.values("drift_ms", in: "tick").allSatisfy { $0 == .milliseconds(0) })
        #expect(run.eventNames().suffix(2) == ["periodic.cancelled", "task.cancelled"])
        #expect(run.times(of: "periodic.cancelled") == [550])
        #expect(run.result["ticks"] == 6)
        #expect(run.result["stop_latency_ms"] == .milliseconds(0))
        #expect(
            run.checkNames == [
                "ticks_match_duration_over_interval", "no_tick_after_cancellation", "periodic_task_ended_by_cancellation",
            ])
        #expect(run.failedChecks.isEmpty)
        #expect(run.spans([0], endedWith: .cancelled))
    }

    /// A tick and the progress it brings reach the log in one append, so an event stream sends
    /// them in one write per subscriber (separately, 10 % more sends at 3,000 subscribers).
    @Test func eachTick_andTheProgressItBrings_areAppendedTogether() async throws {
        let run = try await TestRun.execute(pattern, ["interval_ms": 100, "duration_ms": 550, "work_ms": 0])
        let ticks = run.appends.filter { $0.contains("tick") }
        #expect(ticks.count == 6)
        #expect(ticks.allSatisfy { $0 == ["tick", "progress"] }, "\(ticks)")
        #expect(!run.appends.contains(["progress"]))
        #expect(run.events(named: "progress").compactMap { $0.data["completed"]?.intValue } == [1, 2, 3, 4, 5, 6])
    }

    @Test func fixedDelay_fallsBehindByTheWorkEveryTick() async throws {
        let run = try await TestRun.execute(
            pattern, ["interval_ms": 100, "duration_ms": 550, "work_ms": 10, "schedule": "fixed_delay"])
        #expect(run.times(of: "tick") == [0, 110, 220, 330, 440])
        #expect(run.values("drift_ms", in: "tick") == [0, 10, 20, 30, 40].map { .milliseconds($0) })
        #expect(run.result["max_drift_ms"] == .milliseconds(40))
        #expect(run.failedChecks.isEmpty)
    }

    /// A tick due exactly at the cancellation loses the race: the canceller began waiting
    /// first, so it runs first, and the loop then finds itself cancelled.
    @Test func tickDueAtTheCancellation_neverHappens() async throws {
        let run = try await TestRun.execute(pattern, ["interval_ms": 100, "duration_ms": 300, "work_ms": 0])
        #expect(run.times(of: "tick") == [0, 100, 200])
        #expect(run.result["expected_ticks"] == 3)
        #expect(run.failedChecks.isEmpty)
    }

    @Test func cancellingTheRun_stopsTheLoop() async throws {
        let run = try await TestRun.execute(pattern, ["interval_ms": 100, "duration_ms": 550], cancelAt: .milliseconds(250))
        #expect(run.status == .cancelled)
        #expect(run.times(of: "tick") == [0, 100, 200])
        #expect(run.events(named: "periodic.cancelled").isEmpty)
        #expect(run.spans([0], endedWith: .cancelled))
    }

    @Test func workLongerThanTheInterval_isRejectedForFixedRate() {
        #expect(validationIssues(pattern, ["interval_ms": 10, "work_ms": 10]).map(\.field) == ["work_ms"])
        #expect(validationIssues(pattern, ["interval_ms": 10, "work_ms": 10, "schedule": "fixed_delay"]).isEmpty)
        #expect(validationIssues(pattern, ["interval_ms": 0]).map(\.field) == ["interval_ms"])
    }
}
