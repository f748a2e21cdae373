@testable import Patterns
import TestSupport
import Testing

@Suite struct ConditionPatternTests {
    let pattern = ConditionPattern()

    @Test func notifyN_wakesAsManyAsWereAdded_andEachTakesOne() async throws {
        let run = try await TestRun.execute(pattern, ["consumers": 4, "batch": 2, "produce_ms": 50, "notify": "n"])
        #expect(run.ints("waiting", in: "condition.waiting") == [1, 2, 3, 4])
        #expect(run.ints("woken", in: "condition.notified") == [2, 2])
        #expect(run.times(of: "condition.notified") == [50, 100])
        #expect(run.ints("task", in: "condition.proceeded") == [0, 1, 2, 3])
        #expect(run.times(of: "condition.proceeded") == [50, 50, 100, 100])
        #expect(run.ints("available", in: "condition.proceeded") == [1, 0, 1, 0])
        #expect(run.result["rewaits"] == 0)
        #expect(
            run.checkNames == ["no_consumer_proceeds_with_predicate_false", "notify_n_wakes_at_most_n", "no_wakeup_lost"])
        #expect(run.failedChecks.isEmpty)
        #expect(run.endedAt == .milliseconds(100))
    }

    /// notify_all wakes everyone; those who find nothing left check the predicate again and
    /// go back to waiting instead of proceeding.
    @Test func notifyAll_wakesEveryWaiter_andTheUnluckyWaitAgain() async throws {
        let run = try await TestRun.execute(pattern, ["consumers": 4, "batch": 2, "produce_ms": 50, "notify": "all"])
        #expect(run.ints("woken", in: "condition.notified") == [4, 2])
        #expect(run.values("predicate", in: "condition.woken").compactMap(\.boolValue) == [true, true, false, false, true, true])
        #expect(run.result["rewaits"] == 2)
        #expect(run.check("notify_all_wakes_every_waiter")?.passed == true)
        #expect(run.failedChecks.isEmpty)
    }

    @Test func cancellingTheRun_releasesTheCondition() async throws {
        let run = try await TestRun.execute(pattern, ["consumers": 3, "batch": 1, "produce_ms": 50], cancelAt: .milliseconds(60))
        #expect(run.status == .cancelled)
        #expect(run.spans([1, 2], endedWith: .cancelled))
    }

    // Each check, failed by a variant that breaks its guarantee.

    @Test func proceedingWithoutRecheckingThePredicate_failsNoConsumerProceedsWithPredicateFalse() async throws {
        let run = try await TestRun.execute(
            ConditionPattern(fault: .waitsWithoutRecheck), ["consumers": 4, "batch": 2, "notify": "all"])
        #expect(run.check("no_consumer_proceeds_with_predicate_false")?.passed == false)
    }

    @Test func aNotifyThatWakesEveryone_failsNotifyNWakesAtMostN() async throws {
        let run = try await TestRun.execute(ConditionPattern(fault: .notifyWakesAll), ["consumers": 4, "batch": 1])
        #expect(run.check("notify_n_wakes_at_most_n")?.observed == 4)
        #expect(run.check("notify_n_wakes_at_most_n")?.passed == false)
    }

    @Test func checkingThenWaitingLater_losesAWakeup_andFailsNoWakeupLost() async throws {
        let run = try await TestRun.execute(ConditionPattern(fault: .checksThenWaits), ["consumers": 4, "batch": 2])
        #expect(run.result["stranded"] == 2)
        #expect(run.check("no_wakeup_lost")?.passed == false)
    }

    @Test func aNotifyAllThatWakesOne_failsNotifyAllWakesEveryWaiter() async throws {
        let run = try await TestRun.execute(
            ConditionPattern(fault: .notifyAllWakesOne), ["consumers": 4, "batch": 2, "notify": "all"])
        #expect(run.check("notify_all_wakes_every_waiter")?.passed == false)
    }

    @Test func outOfRange_isRejected() {
        #expect(validationIssues(pattern, ["consumers": 0, "batch": 0]).map(\.field).sorted() == ["batch", "consumers"])
        #expect(validationIssues(pattern, ["produce_ms": 0]).map(\.field) == ["produce_ms"])
        #expect(validationIssues(pattern, ["notify": "some"]).map(\.field) == ["notify"])
    }
}
