import LabJSON
@testable import Patterns
import TestSupport
import Testing

@Suite struct AsCompletedPatternTests {
    let pattern = AsCompletedPattern()

    @Test func resultsAreTakenAsTheTasksEnd_quickestFirst() async throws {
        let run = try await TestRun.execute(pattern, ["delays_ms": [300, 100, 200]])
        #expect(run.taskEvents(["task.finished", "result.taken"]) == [
            "task.finished 1", "result.taken 1", "task.finished 2", "result.taken 2", "task.finished 0", "result.taken 0",
        ])
        #expect(run.times(of: "result.taken") == [100, 200, 300])
        #expect(run.ints("taken", in: "result.taken") == [1, 2, 3])
        #expect(run.result["taken_order"] == [1, 2, 0])
        #expect(run.result["first_taken_ms"] == .milliseconds(100))
        #expect(run.checkNames == ["order_equals_end_order", "first_result_taken_at_least_delay", "every_result_taken_once"])
        #expect(run.failedChecks.isEmpty)
        #expect(run.endedAt == .milliseconds(300))
    }

    @Test func tiedTasks_areTakenTogether_inEitherOrder() async throws {
        let run = try await TestRun.execute(pattern, ["delays_ms": [100, 50, 100]])
        #expect(run.times(of: "result.taken") == [50, 100, 100])
        #expect(run.check("first_result_taken_at_least_delay")?.expected.contains("before the last task ended") == true)
        #expect(run.failedChecks.isEmpty)
    }

    @Test func jitteredDelays_areTakenInDelayOrder() async throws {
        let run = try await TestRun.execute(pattern, ["count": 6, "delay_ms": 10, "jitter_ms": 300, "seed": 9])
        let delays = (0..<6).map { 10 + SeededRandom.jitter(seed: 9, index: $0, maxJitter: 300) }
        let byDelay = (0..<6).sorted { (delays[$0], $0) < (delays[$1], $1) }
        #expect(run.result["taken_order"] == .array(byDelay.map(JSONValue.int)))
        #expect(run.failedChecks.isEmpty)
    }

    @Test func cancellingTheRun_stopsTheIteration() async throws {
        let run = try await TestRun.execute(pattern, ["delays_ms": [300, 100, 200]], cancelAt: .milliseconds(150))
        #expect(run.status == .cancelled)
        #expect(run.ints("task", in: "result.taken") == [1])
        #expect(run.spans([0, 2], endedWith: .cancelled))
    }

    // Each check, failed by a variant that breaks its guarantee.

    @Test func takingResultsInInputOrder_failsOrderEqualsEndOrder() async throws {
        let run = try await TestRun.execute(AsCompletedPattern(fault: .inputOrder), ["delays_ms": [300, 100, 200]])
        #expect(run.result["taken_order"] == [0, 1, 2])
        #expect(run.check("order_equals_end_order")?.passed == false)
    }

    @Test func takingResultsAfterAll_failsFirstResultTakenAtLeastDelay() async throws {
        let run = try await TestRun.execute(AsCompletedPattern(fault: .afterAll), ["delays_ms": [300, 100, 200]])
        #expect(run.result["first_taken_ms"] == .milliseconds(300))
        #expect(run.check("first_result_taken_at_least_delay")?.passed == false)
        #expect(run.check("order_equals_end_order")?.passed == true)
    }

    @Test func droppingAResult_failsEveryResultTakenOnce() async throws {
        let run = try await TestRun.execute(AsCompletedPattern(fault: .dropsOne), ["delays_ms": [300, 100, 200]])
        #expect(run.check("every_result_taken_once")?.passed == false)
    }

    @Test func badDelays_areRejected() {
        #expect(validationIssues(pattern, ["delays_ms": []]).map(\.field) == ["delays_ms"])
        #expect(validationIssues(pattern, ["count": 0, "jitter_ms": 60_001]).map(\.field).sorted() == ["count", "jitter_ms"])
    }
}
