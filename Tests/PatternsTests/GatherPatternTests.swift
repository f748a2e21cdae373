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

    /// Zero-delay tasks never suspend, so they are started through a window: no more than
    /// `zeroDelayWindow` exist at once. (Without it, this one-thread executor creates all
    /// 10,000 before the first one runs.) With a delay, every task is alive at once.
    @Test func zeroDelayTasks_areStartedThroughAWindow_andAllResultsArrive() async throws {
        let windowed = try await TestRun.execute(GatherPattern(), ["count": 10_000, "delay_ms": 0])
        #expect(windowed.result["results_in_order"] == 10_000)
        #expect(windowed.failedChecks.isEmpty)
        #expect(windowed.events(named: "task.started").count == 10_000)
        let peak = try #require(windowed.result["peak_tasks_alive"]?.intValue)
        #expect(peak > 1 && peak <= 4_096)
        let sleeping = try await TestRun.execute(GatherPattern(), ["count": 5_000, "delay_ms": 1])
        #expect(sleeping.result["peak_tasks_alive"] == 5_000)
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
