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
    }
}
