import LabJSON
import Patterns
import TestSupport
import Testing

@Suite struct GatherErrorsPatternTests {
    let pattern = GatherErrorsPattern()
    let ends: Set<String> = ["task.finished", "task.failed", "task.cancelled", "gather.error_surfaced"]

    @Test func returnExceptions_givesNResults_withFailuresInPlace_andCancelsNothing() async throws {
        let run = try await TestRun.execute(pattern, ["count": 6, "delay_ms": 100, "fail_indices": [1, 4]])
        #expect(
            run.taskEvents(ends) == [
                "task.failed 1", "task.failed 4", "task.finished 0", "task.finished 2", "task.finished 3",
                "task.finished 5",
            ])
        #expect(run.times(of: "task.failed") == [50, 50])
        #expect(run.result["results"] == 6)
        #expect(run.result["failures"] == 2)
        #expect(run.result["failed_tasks"] == [1, 4])
        #expect(run.checkNames == ["n_results", "failures_in_place", "nothing_cancelled"])
        #expect(run.failedChecks.isEmpty)
        #expect(run.endedAt == .milliseconds(100))
    }

    @Test func withoutReturnExceptions_theFirstErrorSurfaces_andTheOthersAreCancelled() async throws {
        let run = try await TestRun.execute(
            pattern, ["count": 6, "delay_ms": 100, "fail_indices": [1, 4], "return_exceptions": false])
        #expect(
            run.taskEvents(ends) == [
                "task.failed 1", "task.failed 4", "gather.error_surfaced", "task.cancelled 0", "task.cancelled 2",
                "task.cancelled 3", "task.cancelled 5",
            ])
        #expect(run.result["error_task"] == 1)
        #expect(run.result["cancelled"] == 4)
        #expect(run.result["returned_ms"] == .milliseconds(50))
        #expect(run.checkNames == ["first_error_surfaced", "others_cancelled_not_abandoned"])
        #expect(run.failedChecks.isEmpty)
    }

    @Test func failureRate_picksTheFailingTasksFromTheSeed() async throws {
        let run = try await TestRun.execute(pattern, ["count": 40, "failure_rate": 25, "seed": 9])
        let expected = (0..<40).filter { SeededRandom.jitter(seed: 9, index: $0, maxJitter: 99) < 25 }
        #expect(!expected.isEmpty)
        #expect(run.result["failed_tasks"] == .array(expected.map(JSONValue.int)))
        #expect(run.ints("task", in: "task.failed") == expected)
        #expect(run.failedChecks.isEmpty)
    }

    @Test func byDefault_theMiddleTaskFails() async throws {
        let run = try await TestRun.execute(pattern, ["count": 5])
        #expect(run.result["failed_tasks"] == [2])
    }

    @Test func noFailures_andNoReturnExceptions_everyTaskSucceeds() async throws {
        let run = try await TestRun.execute(pattern, ["count": 3, "failure_rate": 0, "return_exceptions": false])
        #expect(run.checkNames == ["all_succeeded"])
        #expect(run.result["succeeded"] == 3)
        #expect(run.failedChecks.isEmpty)
    }

    @Test func cancellingTheRun_cancelsEveryTask() async throws {
        let run = try await TestRun.execute(pattern, ["count": 4, "fail_indices": [0]], cancelAt: .milliseconds(20))
        #expect(run.status == .cancelled)
        #expect(run.spans([0, 1, 2, 3], endedWith: .cancelled))
    }

    @Test func badFailureSelections_areRejected() {
        #expect(validationIssues(pattern, ["count": 3, "fail_indices": [0, 3]]).map(\.field) == ["fail_indices"])
        #expect(validationIssues(pattern, ["fail_indices": [1], "failure_rate": 10]).map(\.field) == ["failure_rate"])
        #expect(validationIssues(pattern, ["failure_rate": 101]).map(\.field) == ["failure_rate"])
        #expect(validationIssues(pattern, ["fail_indices": [-1]]).map(\.field) == ["fail_indices"])
    }
}
