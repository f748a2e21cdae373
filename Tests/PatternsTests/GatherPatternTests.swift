import Patterns
import TestSupport
import Testing

@Suite struct GatherPatternTests {
    @Test func tasksOverlap_wallTimeIsTheLongestDelay() async throws {
        let run = try await TestRun.execute(GatherPattern(), ["count": 4, "delay_ms": 100, "jitter_ms": 50, "seed": 7])
        #expect(run.status == .succeeded)
        #expect(run.failedChecks.isEmpty)
        let longest = try #require(run.result["longest_delay_ms"]?.intValue)
        #expect(run.result["wall_ms"] == .milliseconds(Double(longest)))
        #expect(run.ints("task", in: "task.started") == [0, 1, 2, 3])
        #expect(run.checkNames == ["results_in_input_order", "wall_at_least_longest_task", "concurrent_not_sequential"])
        #expect(run.result["peak_in_flight"] == 4)
    }

    @Test func oneTask_hasNothingToOverlap_soNoConcurrencyCheck() async throws {
        let run = try await TestRun.execute(GatherPattern(), ["count": 1, "delay_ms": 100])
        #expect(run.checkNames == ["results_in_input_order", "wall_at_least_longest_task"])
        #expect(run.result["peak_in_flight"] == 1)
    }

    @Test func manyTasks_keepEveryResult_butOnlyCappedSpans() async throws {
        let run = try await TestRun.execute(GatherPattern(), ["count": 50_000, "delay_ms": 10], spanCap: 100, eventCap: 500)
        #expect(run.result["results_in_order"] == 50_000)
        #expect(run.timeline.spans.count == 100)
        #expect(run.timeline.truncated)
        #expect(run.timeline.outcomes[.ok] == 50_000)
        #expect(run.failedChecks.isEmpty)
    }

    @Test func cancellingTheRun_cancelsEveryTask() async throws {
        let run = try await TestRun.execute(GatherPattern(), ["count": 3, "delay_ms": 100], cancelAt: .milliseconds(30))
        #expect(run.status == .cancelled)
        #expect(run.times(of: "task.cancelled") == [30, 30, 30])
    }

    @Test func countOverTheGatherLimit_isRejected() {
        #expect(validationIssues(GatherPattern(), ["count": 1_000_001]).map(\.field) == ["count"])
        #expect(validationIssues(GatherPattern(), ["count": 1_000_000]).isEmpty)
    }
}
