@testable import Patterns
import TestSupport
import Testing

@Suite struct TaskGroupPatternTests {
    let pattern = TaskGroupPattern()
    let ends: Set<String> = ["task.finished", "task.failed", "task.cancelled", "group.cancelled", "group.error_collected"]

    @Test func failure_cancelsEverySibling_andTheGroupEndsAfterThem() async throws {
        let run = try await TestRun.execute(pattern, ["count": 5, "delay_ms": 200, "fail_index": 2, "fail_after_ms": 50])
        #expect(run.status == .succeeded)
        #expect(
            run.taskEvents(ends) == [
                "task.failed 2", "group.cancelled", "group.error_collected 2", "task.cancelled 0", "task.cancelled 1",
                "task.cancelled 3", "task.cancelled 4",
            ])
        #expect(run.times(of: "task.cancelled") == [50, 50, 50, 50])
        #expect(run.result["cancelled"] == 4)
        #expect(run.result["completed"] == 0)
        #expect(run.result["group_end_ms"] == .milliseconds(50))
        #expect(run.result["error"] == "injected failure in task 2")
        #expect(run.result["errors"] == ["injected failure in task 2"])
        #expect(
            run.checkNames == [
                "first_error_surfaced", "all_failures_collected", "siblings_cancelled_on_failure",
                "group_ends_after_all_children",
            ])
        #expect(run.failedChecks.isEmpty)
        #expect(run.spans([0, 1, 3, 4], endedWith: .cancelled) && run.spans([2], endedWith: .error))
    }

    @Test func withoutFailure_everyChildCompletes() async throws {
        let run = try await TestRun.execute(pattern, ["count": 3, "delay_ms": 100, "fail_index": -1])
        #expect(run.taskEvents(ends) == ["task.finished 0", "task.finished 1", "task.finished 2"])
        #expect(run.result["completed"] == 3)
        #expect(run.result["group_end_ms"] == .milliseconds(100))
        #expect(run.checkNames == ["all_children_completed", "group_ends_after_all_children"])
        #expect(run.failedChecks.isEmpty)
    }

    @Test func failureAfterTheSiblingsFinished_cancelsNobody() async throws {
        let run = try await TestRun.execute(pattern, ["count": 3, "delay_ms": 50, "fail_index": 1, "fail_after_ms": 80])
        #expect(
            run.taskEvents(ends) == [
                "task.finished 0", "task.finished 2", "task.failed 1", "group.cancelled", "group.error_collected 1",
            ])
        #expect(run.result["cancelled"] == 0)
        #expect(run.check("siblings_cancelled_on_failure")?.expected.hasPrefix("== 0 cancelled") == true)
        #expect(run.failedChecks.isEmpty)
    }

    /// Cooperative cancellation: siblings whose sleep ended at the failure's instant are
    /// already past their last suspension point and complete; the accounting says so.
    @Test func siblingsDueAtTheFailureInstant_completeBeforeTheCancel() async throws {
        let run = try await TestRun.execute(pattern, ["count": 3, "delay_ms": 50, "fail_index": 2, "fail_after_ms": 50])
        #expect(
            run.taskEvents(ends) == [
                "task.finished 0", "task.finished 1", "task.failed 2", "group.cancelled", "group.error_collected 2",
            ])
        #expect(run.result["completed_after_cancel"] == 0)
        #expect(run.failedChecks.isEmpty)
    }

    @Test func cancellingTheRun_cancelsEveryChild() async throws {
        let run = try await TestRun.execute(pattern, ["count": 3, "fail_index": -1], cancelAt: .milliseconds(120))
        #expect(run.status == .cancelled)
        #expect(run.times(of: "task.cancelled") == [120, 120, 120])
        #expect(run.execution.outcome == nil)
    }

    /// asyncio's ExceptionGroup: children failing at the same instant are past their last
    /// suspension point when the cancellation comes, so both fail and both are collected; the
    /// first is the one a Swift group rethrows.
    @Test func childrenFailingAtTheSameInstant_areAllCollected() async throws {
        let run = try await TestRun.execute(pattern, ["count": 5, "delay_ms": 200, "fail_indices": [1, 3], "fail_after_ms": 50])
        #expect(
            run.taskEvents(ends) == [
                "task.failed 1", "task.failed 3", "group.cancelled", "group.error_collected 1", "group.error_collected 3",
                "task.cancelled 0", "task.cancelled 2", "task.cancelled 4",
            ])
        #expect(run.ints("errors_collected", in: "group.error_collected") == [1, 2])
        #expect(run.result["error"] == "injected failure in task 1")
        #expect(run.result["errors"] == ["injected failure in task 1", "injected failure in task 3"])
        #expect(run.result["cancelled"] == 3)
        #expect(run.failedChecks.isEmpty)
    }

    /// A child due to fail later is cancelled before it can: only the first failure is raised.
    @Test func aLaterFailure_isCancelledBeforeItHappens() async throws {
        let run = try await TestRun.execute(
            pattern, ["count": 4, "delay_ms": 200, "fail_indices": [1, 3], "fail_at_ms": [50, 80]])
        #expect(run.result["errors"] == ["injected failure in task 1"])
        #expect(run.result["failures_raised"] == 1)
        #expect(run.spans([3], endedWith: .cancelled))
        #expect(run.failedChecks.isEmpty)
    }

    // Each check, failed by a variant that breaks its guarantee.

    @Test func rethrowingOnlyTheFirstError_failsAllFailuresCollected() async throws {
        let run = try await TestRun.execute(
            TaskGroupPattern(fault: .rethrowsFirstOnly), ["count": 5, "fail_indices": [1, 3], "fail_after_ms": 50])
        #expect(run.result["errors"] == ["injected failure in task 1"])
        #expect(run.check("all_failures_collected")?.passed == false)
        #expect(run.check("first_error_surfaced")?.passed == true)
    }

    @Test func awaitingChildrenInInputOrder_failsFirstErrorSurfaced() async throws {
        let run = try await TestRun.execute(
            TaskGroupPattern(fault: .awaitsInInputOrder), ["count": 5, "fail_indices": [1, 3], "fail_at_ms": [80, 50]])
        #expect(run.result["error"] == "injected failure in task 1")
        #expect(run.check("first_error_surfaced")?.passed == false)
    }

    @Test func aGroupThatDoesNotCancel_failsSiblingsCancelledOnFailure() async throws {
        let run = try await TestRun.execute(TaskGroupPattern(fault: .doesNotCancel), ["count": 5])
        #expect(run.result["completed_after_cancel"] == 4)
        #expect(run.check("siblings_cancelled_on_failure")?.passed == false)
    }

    @Test func childrenNobodyAwaits_failGroupEndsAfterAllChildren() async throws {
        let run = try await TestRun.execute(TaskGroupPattern(fault: .returnsBeforeChildren), ["count": 3, "fail_index": -1])
        #expect(run.check("group_ends_after_all_children")?.passed == false)
        #expect(run.check("all_children_completed")?.passed == false)
    }

    @Test func failIndexNotBelowCount_isRejected() {
        #expect(validationIssues(pattern, ["count": 3, "fail_index": 3]).map(\.field) == ["fail_index"])
        #expect(validationIssues(pattern, ["count": 3, "fail_index": 2]).isEmpty)
        #expect(validationIssues(pattern, ["fail_index": -2]).map(\.field) == ["fail_index"])
        #expect(validationIssues(pattern, ["delay_ms": 60_001]).map(\.field) == ["delay_ms"])
        #expect(validationIssues(pattern, ["count": 3, "fail_indices": [1, 3]]).map(\.field) == ["fail_indices"])
        #expect(validationIssues(pattern, ["count": 3, "fail_indices": [1, 1]]).map(\.field) == ["fail_indices"])
        #expect(validationIssues(pattern, ["fail_indices": [1, 2], "fail_at_ms": [10]]).map(\.field) == ["fail_at_ms"])
        #expect(validationIssues(pattern, ["fail_at_ms": [10]]).map(\.field) == ["fail_at_ms"])
    }
}
