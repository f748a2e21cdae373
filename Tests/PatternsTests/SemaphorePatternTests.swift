import LabJSON
import Patterns
import TestSupport
import Testing

@Suite struct SemaphorePatternTests {
    let pattern = SemaphorePattern()

    @Test func atMostLimitHoldPermits_andTheRestQueueInOrder() async throws {
        let run = try await TestRun.execute(pattern, ["count": 5, "limit": 2, "delay_ms": 100])
        #expect(run.ints("task", in: "semaphore.acquired") == [0, 1, 2, 3, 4])
        #expect(run.times(of: "semaphore.acquired") == [0, 0, 100, 100, 200])
        #expect(run.ints("in_flight", in: "semaphore.acquired") == [1, 2, 1, 2, 1])
        #expect(run.ints("waiting", in: "semaphore.acquired") == [0, 0, 2, 1, 0])
        #expect(run.ints("task", in: "semaphore.released") == [0, 1, 2, 3, 4])
        #expect(run.result["peak_in_flight"] == 2)
        #expect(run.result["wall_ms"] == .milliseconds(300))
        #expect(run.result["wall_ratio"] == 1.0)
        #expect(run.checkNames == ["peak_concurrency_within_limit", "peak_in_flight_equals_min", "wall_at_least_ideal"])
        #expect(run.failedChecks.isEmpty)
    }

    /// The issue's run: 17 minutes on a real clock, 100 waves of 100 holders on a virtual
    /// one, where the wall time is exactly the ideal one.
    @Test func tenThousandTasks_tenSecondsEach_onTheVirtualClock_takeExactlyTheIdealTime() async throws {
        let run = try await TestRun.execute(
            pattern, ["count": 10_000, "limit": 100, "delay_ms": 10_000, "clock": "virtual"], eventCap: 0)
        #expect(run.result["wall_ms"] == .milliseconds(1_000_000))
        #expect(run.result["ideal_ms"] == 1_000_000)
        #expect(run.result["wall_ratio"] == 1.0)
        #expect(run.result["peak_in_flight"] == 100)
        #expect(run.endedAt == .seconds(1_000))
        #expect(run.failedChecks.isEmpty)
    }

    @Test func releaseHandsThePermitOn_beforeTheReleaserFinishes() async throws {
        let run = try await TestRun.execute(pattern, ["count": 2, "limit": 1, "delay_ms": 10])
        #expect(
            run.taskEvents(["semaphore.acquired", "semaphore.released", "task.finished"]) == [
                "semaphore.acquired 0", "semaphore.released 0", "task.finished 0", "semaphore.acquired 1",
                "semaphore.released 1", "task.finished 1",
            ])
    }

    @Test func fewerTasksThanPermits_peakIsTheTaskCount() async throws {
        let run = try await TestRun.execute(pattern, ["count": 2, "limit": 5, "delay_ms": 100])
        #expect(run.result["peak_in_flight"] == 2)
        #expect(run.check("peak_in_flight_equals_min")?.expected == "== 2")
        #expect(run.failedChecks.isEmpty)
    }

    @Test func zeroDelay_doesNotClaimOverlap() async throws {
        let run = try await TestRun.execute(pattern, ["count": 4, "limit": 2, "delay_ms": 0])
        #expect(run.check("peak_in_flight_equals_min") == nil)
        #expect(run.failedChecks.isEmpty)
    }

    @Test func cancellingTheRun_releasesEveryHeldPermit_andWaitersNeverAcquire() async throws {
        let run = try await TestRun.execute(pattern, ["count": 5, "limit": 2, "delay_ms": 100], cancelAt: .milliseconds(150))
        #expect(run.status == .cancelled)
        #expect(run.ints("task", in: "semaphore.acquired") == [0, 1, 2, 3])
        #expect(run.ints("task", in: "semaphore.released") == [0, 1, 2, 3])
        #expect(run.spans([2, 3], endedWith: .cancelled))
        // Task 4 never held a permit, so it has no bar: a span is the time holding one.
        #expect(run.timeline.spans.map(\.task).sorted() == [0, 1, 2, 3])
    }

    @Test func plannedDurationOverTheLimit_isRejected() {
        let issues = validationIssues(pattern, ["count": 100, "limit": 1, "delay_ms": 10_000])
        #expect(issues.map(\.field) == ["params"])
        #expect(issues.first?.message == "planned duration 1000000 ms exceeds the limit of 300 s")
        #expect(validationIssues(pattern, ["limit": 0]).map(\.field) == ["limit"])
        #expect(validationIssues(pattern, ["permits": 3]).map(\.field) == ["permits"])
    }
}
