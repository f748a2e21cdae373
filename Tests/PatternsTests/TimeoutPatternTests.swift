@testable import Patterns
import TestSupport
import Testing

@Suite struct TimeoutPatternTests {
    let pattern = TimeoutPattern()

    @Test func slowOperation_timesOut_andIsCancelledAtTheTimeout() async throws {
        let run = try await TestRun.execute(pattern, ["operation_ms": 200, "timeout_ms": 100, "style": "wait_for"])
        #expect(run.status == .succeeded)
        #expect(run.eventNames() == ["run.started", "timeout.armed", "task.started", "task.timeout", "timeout.expired"])
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
        #expect(run.eventNames() == ["run.started", "timeout.armed", "task.started", "task.finished", "operation.completed"])
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

    /// Nested: the inner deadline comes first and fires; its expiry passes through the outer
    /// scope as the inner's, and the outer is not marked expired.
    @Test func nestedTimeouts_theInnerFires_andTheOuterLetsItsExpiryThroughAsTheInners() async throws {
        let run = try await TestRun.execute(
            pattern, ["operation_ms": 300, "timeout_ms": 200, "inner_timeout_ms": 100, "style": "deadline"])
        #expect(run.values("scope", in: "timeout.armed") == ["outer", "inner"])
        #expect(run.values("scope", in: "timeout.expired") == ["inner"])
        #expect(run.times(of: "timeout.expired") == [100])
        #expect(run.result["expired_scope"] == "inner")
        #expect(run.result["inner_expired"] == true)
        #expect(run.result["outer_expired"] == false)
        #expect(run.spans([0], endedWith: .timeout))
        #expect(
            run.checkNames == [
                "timed_out_iff_operation_exceeds_timeout", "elapsed_at_least_timeout", "operation_saw_cancellation",
                "earlier_deadline_fired", "expiry_attributed_to_its_scope",
            ])
        #expect(run.failedChecks.isEmpty)
    }

    @Test func nestedTimeouts_theOuterFiresFirst_andTheInnerDoesNotClaimIt() async throws {
        let run = try await TestRun.execute(pattern, ["operation_ms": 300, "timeout_ms": 100, "inner_timeout_ms": 200])
        #expect(run.values("scope", in: "timeout.expired") == ["outer"])
        #expect(run.times(of: "timeout.expired") == [100])
        #expect(run.result["inner_expired"] == false)
        #expect(run.result["outer_expired"] == true)
        #expect(run.failedChecks.isEmpty)
    }

    /// `cm.reschedule()`: at 50 ms the operation moves the deadline from 100 to 300 ms, so an
    /// operation of 200 ms completes past its original deadline.
    @Test func reschedulingLater_letsTheOperationRunPastTheOriginalDeadline() async throws {
        let run = try await TestRun.execute(
            pattern,
            ["operation_ms": 200, "timeout_ms": 100, "style": "deadline", "reschedule_at_ms": 50, "reschedule_to_ms": 300])
        #expect(run.times(of: "timeout.rescheduled") == [50])
        #expect(run.ints("deadline_ms", in: "timeout.rescheduled") == [300])
        #expect(run.times(of: "operation.completed") == [200])
        #expect(run.result["timed_out"] == false)
        #expect(run.failedChecks.isEmpty)
    }

    @Test func reschedulingEarlier_firesAtTheNewDeadline() async throws {
        let run = try await TestRun.execute(
            pattern,
            ["operation_ms": 400, "timeout_ms": 300, "style": "deadline", "reschedule_at_ms": 50, "reschedule_to_ms": 120])
        #expect(run.times(of: "timeout.expired") == [120])
        #expect(run.check("elapsed_at_least_timeout")?.expected == ">= 120 ms")
        #expect(run.failedChecks.isEmpty)
    }

    // Each check, failed by a variant that breaks its guarantee.

    @Test func ignoringTheReschedule_failsTimedOutIffOperationExceedsTimeout() async throws {
        let run = try await TestRun.execute(
            TimeoutPattern(fault: .ignoresReschedule),
            ["operation_ms": 200, "timeout_ms": 100, "style": "deadline", "reschedule_at_ms": 50, "reschedule_to_ms": 300])
        #expect(run.check("timed_out_iff_operation_exceeds_timeout")?.passed == false)
    }

    @Test func aTimerThatFiresEarly_failsElapsedAtLeastTimeout() async throws {
        let run = try await TestRun.execute(TimeoutPattern(fault: .timerFiresEarly), ["operation_ms": 200, "timeout_ms": 100])
        #expect(run.check("elapsed_at_least_timeout")?.passed == false)
    }

    @Test func anOperationThatIgnoresCancellation_failsOperationSawCancellation() async throws {
        let run = try await TestRun.execute(
            TimeoutPattern(fault: .operationIgnoresCancellation), ["operation_ms": 200, "timeout_ms": 100])
        #expect(run.result["elapsed_ms"] == .milliseconds(200))
        #expect(run.check("operation_saw_cancellation")?.passed == false)
    }

    @Test func anOperationThatReturnsHalfwayWithAPartialValue_failsBothCompletionChecks() async throws {
        let run = try await TestRun.execute(TimeoutPattern(fault: .returnsEarly), ["operation_ms": 80, "timeout_ms": 100])
        #expect(run.result["timed_out"] == false)
        #expect(run.check("elapsed_at_least_operation")?.passed == false)
        #expect(run.check("operation_value_returned")?.passed == false)
    }

    @Test func swappedDeadlines_failEarlierDeadlineFired() async throws {
        let run = try await TestRun.execute(
            TimeoutPattern(fault: .deadlinesSwapped), ["operation_ms": 300, "timeout_ms": 200, "inner_timeout_ms": 100])
        #expect(run.check("earlier_deadline_fired")?.passed == false)
    }

    @Test func anOuterThatClaimsTheInnersExpiry_failsExpiryAttributedToItsScope() async throws {
        let run = try await TestRun.execute(
            TimeoutPattern(fault: .outerClaimsInnerExpiry), ["operation_ms": 300, "timeout_ms": 200, "inner_timeout_ms": 100])
        #expect(run.result["expired_scope"] == "outer")
        #expect(run.check("expiry_attributed_to_its_scope")?.passed == false)
    }

    @Test func equalOperationAndTimeout_isRejected() {
        #expect(validationIssues(pattern, ["operation_ms": 100, "timeout_ms": 100]).map(\.field) == ["timeout_ms"])
        #expect(validationIssues(pattern, ["style": "asap"]).map(\.field) == ["style"])
        #expect(validationIssues(pattern, ["inner_timeout_ms": 200, "timeout_ms": 300]).map(\.field) == ["inner_timeout_ms"])
        #expect(validationIssues(pattern, ["inner_timeout_ms": 200]).isEmpty)  // the outer fires at 100 first
        #expect(validationIssues(pattern, ["inner_timeout_ms": 100, "timeout_ms": 100]).map(\.field) == ["inner_timeout_ms"])
        #expect(validationIssues(pattern, ["reschedule_at_ms": 50]).map(\.field) == ["reschedule_to_ms"])
        #expect(
            validationIssues(pattern, ["reschedule_at_ms": 50, "reschedule_to_ms": 300]).map(\.field) == ["style"])
        #expect(
            validationIssues(pattern, ["style": "deadline", "reschedule_at_ms": 150, "reschedule_to_ms": 300]).map(\.field)
                == ["reschedule_at_ms"])
        #expect(
            validationIssues(pattern, ["style": "deadline", "reschedule_at_ms": 50, "reschedule_to_ms": 200]).map(\.field)
                == ["reschedule_to_ms"])
    }
}
