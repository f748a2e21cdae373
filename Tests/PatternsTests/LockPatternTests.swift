import Patterns
import TestSupport
import Testing

@Suite struct LockPatternTests {
    let pattern = LockPattern()
    let section: Set<String> = ["lock.acquired", "counter.read", "counter.written", "lock.released"]

    @Test func withTheLock_sectionsTakeTurns_andNoUpdateIsLost() async throws {
        let run = try await TestRun.execute(pattern, ["increments": 3, "use_lock": true, "hold_ms": 10])
        let turns = (0..<3).flatMap { worker in
            ["lock.acquired", "counter.read", "counter.written", "lock.released"].map { "\($0) \(worker)" }
        }
        #expect(run.taskEvents(section) == turns)
        #expect(run.ints("worker", in: "lock.acquired") == [0, 1, 2])
        #expect(run.times(of: "lock.acquired") == [0, 10, 20])
        #expect(run.ints("value", in: "counter.written") == [1, 2, 3])
        #expect(run.result["counter"] == 3)
        #expect(run.result["lost_updates"] == 0)
        #expect(run.checkNames == ["counter_equals_increments", "one_worker_in_section"])
        #expect(run.failedChecks.isEmpty)
    }

    @Test func withoutTheLock_everyWorkerReadsTheSameValue_andUpdatesAreLost() async throws {
        let run = try await TestRun.execute(pattern, ["increments": 3, "use_lock": false, "hold_ms": 10])
        #expect(run.ints("value", in: "counter.read") == [0, 0, 0])
        #expect(run.ints("value", in: "counter.written") == [1, 1, 1])
        #expect(run.events(named: "lock.acquired").isEmpty)
        #expect(run.result["counter"] == 1)
        #expect(run.result["lost_updates"] == 2)
        #expect(run.result["peak_in_section"] == 3)
        #expect(run.checkNames == ["lost_updates_observed", "workers_overlapped_in_section"])
        #expect(run.failedChecks.isEmpty)
    }

    @Test func cancellingTheRun_releasesTheLock_andStopsTheQueue() async throws {
        let run = try await TestRun.execute(pattern, ["increments": 4, "hold_ms": 10], cancelAt: .milliseconds(15))
        #expect(run.status == .cancelled)
        #expect(run.ints("worker", in: "lock.acquired") == [0, 1])
        #expect(run.ints("worker", in: "lock.released") == [0, 1])
        #expect(run.spans([1, 2, 3], endedWith: .cancelled))
    }

    @Test func aRaceOfOne_isRejected() {
        #expect(validationIssues(pattern, ["increments": 1, "use_lock": false]).map(\.field) == ["increments"])
        #expect(validationIssues(pattern, ["increments": 1, "use_lock": true]).isEmpty)
        #expect(validationIssues(pattern, ["hold_ms": 0]).map(\.field) == ["hold_ms"])
    }
}
