import Patterns
import TestSupport
import Testing

@Suite struct TaskGroupPatternTests {
    let pattern = TaskGroupPattern()
    let ends: Set<String> = ["task.finished", "task.failed", "task.cancelled", "group.cancelled"]

    @Test func failure_cancelsEverySibling_andTheGroupEndsAfterThem() async throws {
        let run = try await TestRun.execute(pattern, ["count": 5, "delay_ms": 200, "fail_index": 2, "fail_after_ms": 50])
        #expect(run.status == .succeeded)
        #expect(
            run.taskEvents(ends) == [
                "task.failed 2", "group.cancelled", "task.cancelled 0", "task.cancelled 1", "task.cancelled 3",
                "task.cancelled 4",
            ])
        #expect(run.times(of: "task.cancelled") == [50, 50, 50, 50])
        #expect(run.result["cancelled"] == 4)
        #expect(run.result["completed"] == 0)
        #expect(run.result["group_end_ms"] == .milliseconds(50))
        #expect(run.result["error"] == "injected failure in task 2")
        #expect(run.checkNames == ["first_error_surfaced", "siblings_cancelled_on_failure", "group_ends_after_all_children"])
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
        #expect(run.taskEvents(ends) == ["task.finished 0", "task.finished 2", "task.failed 1", "group.cancelled"])
        #expect(run.result["cancelled"] == 0)
        #expect(run.check("siblings_cancelled_on_failure")?.expected.hasPrefix("== 0 cancelled") == true)
        #expect(run.failedChecks.isEmpty)
    }

    /// Cooperative cancellation: siblings whose sleep ended at the failure's instant are
    /// already past their last suspension point and complete; the accounting says so.
    @Test func siblingsDueAtTheFailureInstant_completeBeforeTheCancel() async throws {
        let run = try await TestRun.execute(pattern, ["count": 3, "delay_ms": 50, "fail_index": 2, "fail_after_ms": 50])
        #expect(run.taskEvents(ends) == ["task.finished 0", "task.finished 1", "task.failed 2", "group.cancelled"])
        #expect(run.result["completed_after_cancel"] == 0)
        #expect(run.failedChecks.isEmpty)
    }

    @Test func cancellingTheRun_cancelsEveryChild() async throws {
        let run = try await TestRun.execute(pattern, ["count": 3, "fail_index": -1], cancelAt: .milliseconds(120))
        #expect(run.status == .cancelled)
        #expect(run.times(of: "task.cancelled") == [120, 120, 120])
        #expect(run.execution.outcome == nil)
    }

    @Test func failIndexNotBelowCount_isRejected() {
        #expect(validationIssues(pattern, ["count": 3, "fail_index": 3]).map(\.field) == ["fail_index"])
        #expect(validationIssues(pattern, ["count": 3, "fail_index": 2]).isEmpty)
        #expect(validationIssues(pattern, ["fail_index": -2]).map(\.field) == ["fail_index"])
        #expect(validationIssues(pattern, ["delay_ms": 60_001]).map(\.field) == ["delay_ms"])
    }
}
