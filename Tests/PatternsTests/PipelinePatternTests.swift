import LabJSON
@testable import Patterns
import TestSupport
import Testing

@Suite struct PipelinePatternTests {
    let pattern = PipelinePattern()
    /// Seed 1 makes item 0 slower than item 1 in the fanned stage.
    let jittered: [String: JSONValue] = ["items": 6, "stage_ms": [0, 20, 0], "workers": 3, "buffer": 2, "jitter_ms": 60, "seed": 1]

    /// Stages of 10, 30 and 10 ms, the middle one on three workers, buffers of one: the first
    /// item takes 50 ms through, then one comes out every 10 ms (the single-worker stages'
    /// pace); the middle stage has three items in hand at once, never more.
    @Test func itemsFlowThroughTheStages_atTheSlowestSinglePace() async throws {
        let run = try await TestRun.execute(pattern, ["items": 6, "stage_ms": [10, 30, 10], "workers": 3, "buffer": 1, "jitter_ms": 0])
        #expect(run.times(of: "pipeline.delivered") == [50, 60, 70, 80, 90, 100])
        #expect(run.ints("item", in: "pipeline.delivered") == [0, 1, 2, 3, 4, 5])
        #expect(run.ints("delivered", in: "pipeline.delivered") == [1, 2, 3, 4, 5, 6])
        #expect(run.result["peak_busy_per_stage"] == [1, 3, 1])
        #expect(run.result["peak_buffer_sizes"] == [1, 1, 1, 1])
        #expect(run.timeline.spans.count == 18)
        #expect(
            run.checkNames == [
                "every_item_through_every_stage_once", "order_preserved", "buffers_within_bound", "stage_concurrency_within_k",
            ])
        #expect(run.failedChecks.isEmpty)
        #expect(run.endedAt == .milliseconds(100))
    }

    @Test func unordered_itemsLeaveTheFannedStageAsTheyFinish() async throws {
        var parameters = jittered
        parameters["ordered"] = false
        let run = try await TestRun.execute(pattern, parameters)
        #expect(run.result["delivered_order"] == [1, 0, 2, 3, 4, 5])
        #expect(run.result["out_of_place"] == 2)
        #expect(run.check("order_preserved") == nil)
        #expect(run.failedChecks.isEmpty)
    }

    @Test func ordered_aWorkerDoneEarlyWaitsForItsTurn() async throws {
        let run = try await TestRun.execute(pattern, jittered)
        #expect(run.result["delivered_order"] == [0, 1, 2, 3, 4, 5])
        #expect(run.failedChecks.isEmpty)
    }

    @Test func cancellingTheRun_stopsEveryStage() async throws {
        let run = try await TestRun.execute(pattern, [:], cancelAt: .milliseconds(100))
        #expect(run.status == .cancelled)
        #expect(run.timeline.spans.contains { $0.outcome == .cancelled })
    }

    // Each check, failed by a variant that breaks its guarantee.

    @Test func anItemProcessedTwice_failsEveryItemThroughEveryStageOnce() async throws {
        let run = try await TestRun.execute(PipelinePattern(fault: .processesFirstItemTwice), jittered)
        #expect(run.check("every_item_through_every_stage_once")?.passed == false)
    }

    @Test func anUnorderedFanInWhenOrderWasAsked_failsOrderPreserved() async throws {
        let run = try await TestRun.execute(PipelinePattern(fault: .unorderedFanIn), jittered)
        #expect(run.check("order_preserved")?.passed == false)
    }

    @Test func buffersWithoutTheirBound_failBuffersWithinBound() async throws {
        let run = try await TestRun.execute(
            PipelinePattern(fault: .unboundedBuffers), ["items": 6, "stage_ms": [20], "workers": 1, "buffer": 1, "fan_out_stage": 0])
        #expect(run.check("buffers_within_bound")?.observed == 6)
        #expect(run.check("buffers_within_bound")?.passed == false)
    }

    @Test func oneWorkerTooMany_failsStageConcurrencyWithinK() async throws {
        let run = try await TestRun.execute(
            PipelinePattern(fault: .oneWorkerTooMany), ["items": 6, "stage_ms": [0, 30, 0], "workers": 2, "buffer": 2, "jitter_ms": 0])
        #expect(run.result["peak_busy_per_stage"] == [1, 3, 1])
        #expect(run.check("stage_concurrency_within_k")?.passed == false)
    }

    @Test func badShapes_areRejected() {
        #expect(validationIssues(pattern, ["stage_ms": [10, 20], "fan_out_stage": 2]).map(\.field) == ["fan_out_stage"])
        #expect(validationIssues(pattern, ["stage_ms": .array(Array(repeating: 1, count: 11))]).map(\.field) == ["stage_ms"])
        #expect(validationIssues(pattern, ["workers": 101, "buffer": 0]).map(\.field).sorted() == ["buffer", "workers"])
    }
}
