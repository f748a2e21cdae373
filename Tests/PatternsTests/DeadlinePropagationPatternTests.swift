@testable import Patterns
import TestSupport
import Testing

@Suite struct DeadlinePropagationPatternTests {
    let pattern = DeadlinePropagationPattern()

    @Test func defaults_withPropagationTheTreeStopsAtTheDeadline_withoutItWorkIsWasted() async throws {
        let run = try await TestRun.execute(pattern)
        // 40 nodes, 40 ms a hop: the root and level 1 finish by 80 ms; level 2 starts at 80
        // and is cut at 100; level 3 is never called. Without propagation levels 2 and 3
        // go on: 9 * 20 + 27 * 40 ms after the caller gave up.
        #expect(run.result["on"]?["finished"] == 4)
        #expect(run.result["on"]?["cut"] == 9)
        #expect(run.result["on"]?["not_called"] == 27)
        #expect(run.result["on"]?["last_work_end_ms"] == 100)
        #expect(run.result["on"]?["wasted_ms"] == 0)
        #expect(run.result["off"]?["finished"] == 40)
        #expect(run.result["off"]?["wasted_ms"] == 1_260)
        #expect(run.result["off"]?["gave_up_at_ms"] == 100)
        #expect(run.failedChecks.isEmpty)
        #expect(run.endedAt == .milliseconds(160))
    }

    @Test func theWorkingCounters_riseAndFallWithTheTree() async throws {
        let run = try await TestRun.execute(pattern, ["propagation": "on"])
        #expect(run.ints("working_on", in: "node.working").max() == 9)
        #expect(run.ints("working_on", in: "node.cut").last == 0)
        #expect(run.events(named: "caller.gave_up").count == 1)
        #expect(run.endedAt == .milliseconds(100))
    }

    @Test func nodesThatIgnoreTheDeadline_failTheDeadlineChecks() async throws {
        let run = try await TestRun.execute(DeadlinePropagationPattern(ignoresDeadline: true), ["propagation": "on"])
        #expect(run.check("on_no_work_past_deadline")?.passed == false)
        #expect(run.check("on_no_work_started_after_deadline")?.passed == false)
    }

    /// A timer that wakes a node 30 ms after the deadline it asked to stop at is the
    /// machine's lateness, shown as a figure; a node that asked to work past it fails.
    @Test func workPastTheDeadline_isJudgedByTheStopEachNodeAskedFor() {
        let late = DeadlineArm.Work(startMs: 60, endMs: 130, end: .cut, stopAtMs: 100)
        let report = DeadlineArm.Report(propagates: true, work: [late], gaveUpAtMs: 100, deadlineMs: 100, notCalled: 0)
        #expect(report.workingPastDeadline == 0)
        #expect(report.latestWakeupPastDeadlineMs == 30)
        let over = DeadlineArm.Work(startMs: 60, endMs: 100.5, end: .finished, stopAtMs: 100.5)
        let overrun = DeadlineArm.Report(propagates: true, work: [over], gaveUpAtMs: 100, deadlineMs: 100, notCalled: 0)
        #expect(overrun.workingPastDeadline == 1)
    }

    @Test func noWorkAfterTheCallerGaveUp_failsTheWasteCheck() throws {
        let work = [DeadlineArm.Work(startMs: 0, endMs: 90, end: .finished, stopAtMs: 90)]
        let report = DeadlineArm.Report(propagates: false, work: work, gaveUpAtMs: 100, deadlineMs: 100, notCalled: 0)
        #expect(report.wastedMs == 0)
        let outcome = pattern.outcome([report], tree: CallTree(depth: 3, fanOut: 1), workMs: 40, deadlineMs: 100)
        #expect(outcome.checks.first { $0.name == "off_wasted_work_measured" }?.passed == false)
    }

    @Test func aTreeWithinItsDeadline_finishesWhole() async throws {
        let run = try await TestRun.execute(pattern, ["root_deadline_ms": 500])
        #expect(run.result["on"]?["finished"] == 40)
        #expect(run.result["off"]?["wasted_ms"] == 0)
        #expect(run.check("on_subtrees_cut_counted") == nil)
        #expect(run.failedChecks.isEmpty)
    }

    @Test func callTree_numbersItsNodesBreadthFirst() {
        let tree = CallTree(depth: 2, fanOut: 3)
        #expect(tree.nodes == 13)
        #expect(tree.children(of: 0) == 1..<4)
        #expect(tree.children(of: 4) == 13..<13)
        #expect((0..<13).map(tree.depth(of:)) == [0, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2])
    }

    @Test func tooBigATree_isRejected() {
        #expect(validationIssues(pattern, ["depth": 8, "fan_out": 5]).map(\.field) == ["fan_out"])
        #expect(validationIssues(pattern, ["propagation": "maybe"]).map(\.field) == ["propagation"])
    }
}
