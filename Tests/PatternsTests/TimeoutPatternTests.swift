import Patterns
import TestSupport
import Testing

@Suite struct TimeoutPatternTests {
    let pattern = TimeoutPattern()

    @Test func slowOperation_timesOut_andIsCancelledAtTheTimeout() async throws {
        let run = try await TestRun.execute(pattern, ["operation_ms": 200, "timeout_ms": 100, "style": "wait_for"])
        #expect(run.status == .succeeded)
        #expect(run.eventNames() == ["run.started", "task.started", "task.timeout", "timeout.expired"])
        #expect(run.times(of: "timeout.expired") == [100])
        #expect(run.result["timed_out"] == true)
        #expect(run.result["operation_saw_cancellation"] == true)
        #expect(
            run.checkNames == [
                "timed_out_iff_operation_exceeds_timeout", "elapsed_at_least_timeout", "operation_saw_cancellation",
            ])
        #expect(run.failedChecks.isEmpty)
        #expect(run.spans([0], endedWith: .timeout))
    }

    @Test func fastOperation_returnsItsValue_andTheTimerIsCancelled() async throws {
        let run = try await TestRun.execute(pattern, ["operation_ms": 50, "timeout_ms": 100])
        #expect(run.eventNames() == ["run.started", "task.started", "task.finished", "operation.completed"])
        #expect(run.times(of: "operation.completed") == [50])
        #expect(run.result["timed_out"] == false)
        #expect(run.checkNames == ["timed_out_iff_operation_exceeds_timeout", "elapsed_at_least_operation", "operation_value_returned"])
        #expect(run.failedChecks.isEmpty)
        #expect(run.endedAt == .milliseconds(50))
    }

    @Test func deadlineStyle_coversEveryAwaitOfTheBlock() async throws {
        let run = try await TestRun.execute(pattern, ["operation_ms": 300, "timeout_ms": 200, "style": "deadline"])
        #expect(run.ints("step", in: "operation.step") == [1])
        #expect(run.times(of: "operation.step") == [150])
        #expect(run.times(of: "timeout.expired") == [200])
        #expect(run.failedChecks.isEmpty)
    }

    @Test func cancellingTheRun_cancelsTheOperation_notATimeout() async throws {
        let run = try await TestRun.execute(pattern, ["operation_ms": 200, "timeout_ms": 100], cancelAt: .milliseconds(40))
        #expect(run.status == .cancelled)
        #expect(run.spans([0], endedWith: .cancelled))
        #expect(run.events(named: "timeout.expired").isEmpty)
    }

    @Test func equalOperationAndTimeout_isRejected() {
        #expect(validationIssues(pattern, ["operation_ms": 100, "timeout_ms": 100]).map(\.field) == ["timeout_ms"])
        #expect(validationIssues(pattern, ["style": "asap"]).map(\.field) == ["style"])
    }
}
