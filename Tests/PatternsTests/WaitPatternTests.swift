@testable import Patterns
import TestSupport
import Testing

@Suite struct WaitPatternTests {
    let pattern = WaitPattern()

    @Test func firstCompleted_returnsTheFirstDone_andThePendingRunOn() async throws {
        let run = try await TestRun.execute(pattern, ["delays_ms": [300, 100, 200, 400]])
        #expect(run.times(of: "wait.returned") == [100])
        #expect(run.result["done"] == [1])
        #expect(run.result["pending"] == [0, 2, 3])
        #expect(run.times(of: "wait.task_done") == [100, 200, 300, 400])
        #expect(run.ints("tasks_done", in: "wait.task_done") == [1, 2, 3, 4])
        #expect(run.result["pending_ran_on"] == 3)
        #expect(run.spans([0, 1, 2, 3], endedWith: .ok))
        #expect(run.checkNames == ["done_and_pending_as_asyncio_returns_them", "pending_not_cancelled"])
        #expect(run.failedChecks.isEmpty)
        #expect(run.endedAt == .milliseconds(400))
    }

    /// The first tutorial's program: asyncio.wait(FIRST_COMPLETED) over servers of 1, 0.5 and
    /// 2 s, then the caller cancels what is pending.
    @Test func firstTutorialProgram_firstCompletedThenCancelThePending() async throws {
        let run = try await TestRun.execute(pattern, ["delays_ms": [1000, 500, 2000], "cancel_pending": true])
        #expect(run.result["done"] == [1])
        #expect(run.result["pending"] == [0, 2])
        #expect(run.spans([0, 2], endedWith: .cancelled))
        #expect(run.times(of: "task.cancelled") == [500, 500])
        #expect(run.checkNames == ["done_and_pending_as_asyncio_returns_them", "pending_cancelled_when_asked"])
        #expect(run.failedChecks.isEmpty)
        #expect(run.endedAt == .milliseconds(500))
    }

    @Test func firstException_returnsAtTheFirstRaise_notTheFirstReturn() async throws {
        let run = try await TestRun.execute(
            pattern, ["delays_ms": [300, 100, 200, 400], "fail_indices": [2], "return_when": "FIRST_EXCEPTION"])
        #expect(run.times(of: "wait.returned") == [200])
        #expect(run.result["done"] == [1, 2])
        #expect(run.result["raised"] == [2])
        #expect(run.failedChecks.isEmpty)
    }

    @Test func firstExceptionWithoutOne_isAllCompleted() async throws {
        let run = try await TestRun.execute(pattern, ["delays_ms": [300, 100], "return_when": "FIRST_EXCEPTION"])
        #expect(run.times(of: "wait.returned") == [300])
        #expect(run.result["pending"] == [])
        #expect(run.failedChecks.isEmpty)
    }

    @Test func allCompleted_withATimeout_returnsAtTheTimeout_withWhatIsDone() async throws {
        let run = try await TestRun.execute(
            pattern, ["delays_ms": [300, 100, 200, 400], "return_when": "ALL_COMPLETED", "timeout_ms": 250])
        #expect(run.times(of: "wait.returned") == [250])
        #expect(run.values("why", in: "wait.returned") == ["timeout"])
        #expect(run.result["done"] == [1, 2])
        #expect(run.result["timed_out"] == true)
        #expect(run.check("timeout_only_when_rule_unmet")?.passed == true)
        #expect(run.failedChecks.isEmpty)
    }

    @Test func tiedTasks_areDoneTogether() async throws {
        let run = try await TestRun.execute(pattern, ["delays_ms": [100, 100, 200]])
        #expect(run.result["done"] == [0, 1])
        #expect(run.failedChecks.isEmpty)
    }

    @Test func cancellingTheRun_cancelsEverything() async throws {
        let run = try await TestRun.execute(pattern, ["delays_ms": [300, 200]], cancelAt: .milliseconds(50))
        #expect(run.status == .cancelled)
        #expect(run.events(named: "wait.returned").isEmpty)
    }

    // Each check, failed by a variant that breaks its guarantee.

    @Test func waitingForAllUnderFirstCompleted_failsDoneAndPending() async throws {
        let run = try await TestRun.execute(WaitPattern(fault: .returnsAfterAll), ["delays_ms": [300, 100, 200]])
        #expect(run.result["done"] == [0, 1, 2])
        #expect(run.check("done_and_pending_as_asyncio_returns_them")?.passed == false)
    }

    @Test func cancellingWhatIsPendingUnasked_failsPendingNotCancelled() async throws {
        let run = try await TestRun.execute(WaitPattern(fault: .cancelsPending), ["delays_ms": [300, 100, 200]])
        #expect(run.check("pending_not_cancelled")?.passed == false)
    }

    @Test func notCancellingWhenAsked_failsPendingCancelledWhenAsked() async throws {
        let run = try await TestRun.execute(
            WaitPattern(fault: .ignoresCancelPending), ["delays_ms": [300, 100, 200], "cancel_pending": true])
        #expect(run.result["pending_ran_on"] == 2)
        #expect(run.check("pending_cancelled_when_asked")?.passed == false)
    }

    /// A timeout that fires although the rule was met before it: FIRST_COMPLETED was met at
    /// 100 ms, but this wait only listens for all of them.
    @Test func aTimeoutAfterTheRuleWasMet_failsTimeoutOnlyWhenRuleUnmet() async throws {
        let run = try await TestRun.execute(WaitPattern(fault: .returnsAfterAll), ["delays_ms": [300, 100], "timeout_ms": 200])
        #expect(run.result["timed_out"] == true)
        #expect(run.check("timeout_only_when_rule_unmet")?.passed == false)
    }

    @Test func aTimeoutThatFiresEarly_failsTimeoutOnlyWhenRuleUnmet() async throws {
        let run = try await TestRun.execute(
            WaitPattern(fault: .timeoutFiresEarly), ["delays_ms": [300, 100], "return_when": "ALL_COMPLETED", "timeout_ms": 250])
        #expect(run.result["returned_ms"] == .milliseconds(125))
        #expect(run.check("timeout_only_when_rule_unmet")?.passed == false)
    }

    @Test func badInput_isRejected() {
        #expect(validationIssues(pattern, ["delays_ms": [1, 2], "fail_indices": [2]]).map(\.field) == ["fail_indices"])
        #expect(validationIssues(pattern, ["return_when": "FIRST"]).map(\.field) == ["return_when"])
        #expect(validationIssues(pattern, ["timeout_ms": -1]).map(\.field) == ["timeout_ms"])
    }
}
