import Patterns
import TestSupport
import Testing

@Suite struct EventPatternTests {
    let pattern = EventPattern()

    @Test func waitersWait_untilTheSet_thenAllProceed() async throws {
        let run = try await TestRun.execute(pattern, ["waiters": 3, "set_after_ms": 100])
        #expect(
            run.taskEvents(["event.waiting", "event.set", "event.proceeded"]) == [
                "event.waiting 0", "event.waiting 1", "event.waiting 2", "event.set", "event.proceeded 0",
                "event.proceeded 1", "event.proceeded 2",
            ])
        #expect(run.times(of: "event.waiting") == [0, 0, 0])
        #expect(run.times(of: "event.proceeded") == [100, 100, 100])
        #expect(run.ints("waiting", in: "event.set") == [3])
        #expect(run.checkNames == ["no_waiter_before_set", "all_waiters_proceeded", "first_proceed_after_set"])
        #expect(run.failedChecks.isEmpty)
    }

    @Test func setAtOnce_stillWakesEveryoneAfterTheSet() async throws {
        let run = try await TestRun.execute(pattern, ["waiters": 2, "set_after_ms": 0])
        #expect(run.ints("waiting", in: "event.set") == [2])
        #expect(run.result["proceeded"] == 2)
        #expect(run.failedChecks.isEmpty)
    }

    @Test func cancellingTheRun_beforeTheSet_releasesTheWaiters() async throws {
        let run = try await TestRun.execute(pattern, ["waiters": 3, "set_after_ms": 100], cancelAt: .milliseconds(60))
        #expect(run.status == .cancelled)
        #expect(run.events(named: "event.set").isEmpty)
        #expect(run.events(named: "event.proceeded").isEmpty)
        #expect(run.spans([0, 1, 2, 3], endedWith: .cancelled))
    }

    @Test func noWaiters_isRejected() {
        #expect(validationIssues(pattern, ["waiters": 0]).map(\.field) == ["waiters"])
        #expect(validationIssues(pattern, ["set_after_ms": "soon"]).map(\.field) == ["set_after_ms"])
    }
}
