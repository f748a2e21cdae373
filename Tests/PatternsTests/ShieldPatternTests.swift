@testable import Patterns
import TestSupport
import Testing

@Suite struct ShieldPatternTests {
    let pattern = ShieldPattern()
    let story: Set<String> = [
        "shield.outer_cancelled", "shield.inner_completed", "shield.inner_cancelled", "shield.result_delivered",
        "shield.result_lost", "task.cancelled", "task.timeout", "task.finished",
    ]

    @Test func theOuterIsCancelled_theInnerCompletes_andTheKeeperGetsItsResult() async throws {
        let run = try await TestRun.execute(pattern, ["operation_ms": 300, "cancel_after_ms": 100, "how": "cancel"])
        #expect(
            run.taskEvents(story) == [
                "task.cancelled 1", "shield.outer_cancelled 1", "task.finished 0", "shield.inner_completed 0",
                "shield.result_delivered 2", "task.finished 2",
            ])
        #expect(run.times(of: "shield.outer_cancelled") == [100])
        #expect(run.times(of: "shield.result_delivered") == [300])
        #expect(run.ints("awaiting", in: "shield.waiting") == [1, 2])
        #expect(run.ints("awaiting", in: "shield.outer_cancelled") == [1])
        #expect(run.ints("awaiting", in: "shield.result_delivered") == [0])
        #expect(run.result["result_delivered"] == 300)
        #expect(run.checkNames == ["inner_completed", "outer_cancelled_at_cancel_time", "result_delivered_to_keeper"])
        #expect(run.failedChecks.isEmpty)
        #expect(run.endedAt == .milliseconds(300))
    }

    @Test func waitForTimesOut_theShieldedInnerStillCompletes() async throws {
        let run = try await TestRun.execute(pattern, ["operation_ms": 300, "cancel_after_ms": 100, "how": "timeout"])
        #expect(run.spans([1], endedWith: .timeout))
        #expect(run.values("how", in: "shield.outer_cancelled") == ["timeout"])
        #expect(run.result["outer_ended_by"] == "timeout")
        #expect(run.failedChecks.isEmpty)
    }

    @Test func withoutTheShield_theInnerIsCancelledWithTheOuter_andNothingIsDelivered() async throws {
        let run = try await TestRun.execute(pattern, ["operation_ms": 300, "cancel_after_ms": 100, "shield": false])
        #expect(run.times(of: "shield.inner_cancelled") == [100])
        #expect(run.events(named: "shield.result_lost").count == 1)
        #expect(run.spans([0, 1, 2], endedWith: .cancelled))
        #expect(run.checkNames == ["inner_cancelled_with_outer", "outer_cancelled_at_cancel_time", "result_not_delivered"])
        #expect(run.failedChecks.isEmpty)
        #expect(run.endedAt == .milliseconds(100))
    }

    @Test func cancellingTheRun_cancelsTheInnerToo() async throws {
        let run = try await TestRun.execute(pattern, [:], cancelAt: .milliseconds(200))
        #expect(run.status == .cancelled)
        #expect(run.spans([0, 2], endedWith: .cancelled))
    }

    // Each check, failed by a variant that breaks its guarantee.

    @Test func anOperationInsideTheWaiter_failsInnerCompletedAndResultDelivered() async throws {
        let run = try await TestRun.execute(ShieldPattern(fault: .innerInsideOuter), [:])
        #expect(run.check("inner_completed")?.passed == false)
        #expect(run.check("result_delivered_to_keeper")?.passed == false)
    }

    @Test func aWaiterThatIgnoresItsCancellation_failsOuterCancelledAtCancelTime() async throws {
        let run = try await TestRun.execute(ShieldPattern(fault: .outerWaitsForInner), [:])
        #expect(run.result["outer_end_ms"] == .milliseconds(300))
        #expect(run.check("outer_cancelled_at_cancel_time")?.passed == false)
    }

    @Test func aLostResult_failsResultDeliveredToKeeper() async throws {
        let run = try await TestRun.execute(ShieldPattern(fault: .resultLost), [:])
        #expect(run.check("inner_completed")?.passed == true)
        #expect(run.check("result_delivered_to_keeper")?.passed == false)
    }

    @Test func aShieldWhereNoneWasAsked_failsTheUnshieldedChecks() async throws {
        let run = try await TestRun.execute(ShieldPattern(fault: .alwaysShields), ["shield": false])
        #expect(run.check("inner_cancelled_with_outer")?.passed == false)
        #expect(run.check("result_not_delivered")?.passed == false)
    }

    @Test func aCancelTimeNotBeforeTheOperationsEnd_isRejected() {
        #expect(validationIssues(pattern, ["operation_ms": 100, "cancel_after_ms": 100]).map(\.field) == ["cancel_after_ms"])
        #expect(validationIssues(pattern, ["how": "later"]).map(\.field) == ["how"])
    }
}
