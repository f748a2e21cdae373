import Patterns
import TestSupport
import Testing

@Suite struct BlockingOffloadPatternTests {
    let pattern = BlockingOffloadPattern()

    @Test func offloaded_theHeartbeatKeepsItsBeat_whileThreadsBlock() async throws {
        let run = try await TestRun.execute(
            pattern, ["tasks": 4, "block_ms": 100, "mode": "offload", "heartbeat_ms": 40, "threads": 2])
        #expect(run.times(of: "heartbeat") == [40, 80, 120, 160, 200])
        #expect(run.values("gap_ms", in: "heartbeat").allSatisfy { $0 == .milliseconds(40) })
        #expect(run.ints("task", in: "task.finished") == [0, 1, 2, 3])
        #expect(run.times(of: "task.finished") == [100, 100, 200, 200])
        #expect(run.result["peak_blocking"] == 2)
        #expect(run.checkNames == ["all_blocking_calls_completed", "heartbeat_kept_its_interval", "offload_threads_within_limit"])
        #expect(run.failedChecks.isEmpty)
    }

    @Test func inline_blocksTheExecutorThread_andTheHeartbeatStarves() async throws {
        let run = try await TestRun.execute(pattern, ["tasks": 3, "block_ms": 100, "mode": "inline", "heartbeat_ms": 20])
        #expect(run.times(of: "task.finished") == [100, 200, 300])
        #expect(run.times(of: "heartbeat") == [300])
        #expect(run.result["largest_gap_ms"] == .milliseconds(300))
        #expect(run.result["gap_ratio"] == 15.0)
        #expect(run.result["peak_blocking"] == 1)
        #expect(run.checkNames == ["all_blocking_calls_completed", "starvation_observed"])
        #expect(run.failedChecks.isEmpty)
    }

    /// A blocking call cannot be interrupted: cancellation stops the calls still queued for
    /// a thread, and the run waits for the ones already blocking.
    @Test func cancellingTheRun_waitsForRunningCalls_andDropsQueuedOnes() async throws {
        let run = try await TestRun.execute(
            pattern, ["tasks": 4, "block_ms": 100, "heartbeat_ms": 20, "threads": 2], cancelAt: .milliseconds(50))
        #expect(run.status == .cancelled)
        #expect(run.endedAt == .milliseconds(100))
        #expect(run.spans([2, 3], endedWith: .cancelled))
        #expect(run.spans([0, 1], endedWith: .ok))
    }

    @Test func badSettings_areRejected() {
        #expect(validationIssues(pattern, ["mode": "thread"]).map(\.field) == ["mode"])
        #expect(validationIssues(pattern, ["threads": 65]).map(\.field) == ["threads"])
        let tooLong = validationIssues(pattern, ["tasks": 400, "block_ms": 1_000, "mode": "inline"])
        #expect(tooLong.map(\.field) == ["params"])
    }
}
