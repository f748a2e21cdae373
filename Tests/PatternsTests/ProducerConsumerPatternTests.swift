import LabJSON
@testable import Patterns
import TestSupport
import Testing

@Suite struct ProducerConsumerPatternTests {
    let pattern = ProducerConsumerPattern()
    let queueEvents: Set<String> = ["queue.put", "queue.get", "producer.blocked"]

    private func trace(_ run: TestRunResult) -> [String] {
        run.events.filter { queueEvents.contains($0.name) }.map { event in
            "\(event.name) \(event.data["item"]?.intValue ?? -1) size=\(event.data["size"]?.intValue ?? -1)"
        }
    }

    @Test func fullQueue_blocksTheProducer_untilAGetMakesRoom() async throws {
        let run = try await TestRun.execute(
            pattern,
            ["items": 4, "producers": 1, "consumers": 1, "maxsize": 1, "produce_ms": 0, "consume_ms": 10])
        // asyncio's counting: the put while the consumer waits is in the queue (size 1)
        // until the consumer runs and takes it.
        #expect(
            trace(run) == [
                "queue.put 0 size=1", "producer.blocked 1 size=1", "queue.get 0 size=0", "queue.put 1 size=1",
                "producer.blocked 2 size=1", "queue.get 1 size=0", "queue.put 2 size=1", "producer.blocked 3 size=1",
                "queue.get 2 size=0", "queue.put 3 size=1", "queue.get 3 size=0",
            ])
        #expect(run.times(of: "queue.get") == [0, 10, 20, 30])
        #expect(run.ints("producers_blocked", in: "producer.blocked") == [1, 1, 1])
        #expect(run.ints("producers_blocked", in: "queue.put") == [0, 0, 0, 0])
        #expect(run.result["peak_size"] == 1)
        #expect(run.result["puts_suspended"] == 3)
        #expect(
            run.checkNames == [
                "queue_never_exceeded_maxsize", "every_item_consumed_exactly_once", "producers_blocked_when_full",
                "unfinished_never_below_zero",
            ])
        #expect(run.failedChecks.isEmpty)
        #expect(run.endedAt == .milliseconds(40))
    }

    /// The first tutorial's program: Queue(maxsize=5), three items put at once, a consumer
    /// taking 0.1 s each. The producer never suspends, so all three are in the queue before
    /// the consumer takes the first: asyncio's qsize peaks at 3.
    @Test func firstTutorialProgram_peaksAtThree_andTakesThreeTenthsOfASecond() async throws {
        let run = try await TestRun.execute(
            pattern, ["items": 3, "producers": 1, "consumers": 1, "maxsize": 5, "produce_ms": 0, "consume_ms": 100])
        #expect(run.ints("size", in: "queue.put") == [1, 2, 3])
        #expect(run.ints("unfinished", in: "queue.task_done") == [2, 1, 0])
        #expect(run.result["get_order"] == [0, 1, 2])
        #expect(run.result["peak_size"] == 3)
        #expect(run.result["wall_ms"] == .milliseconds(300))
        #expect(run.failedChecks.isEmpty)
    }

    /// The second tutorial's program: an unbounded queue, an item every 0.5 s, a consumer
    /// taking 1 s each. At 1.5 s and 2.5 s the consumer's and the producer's sleeps end at the
    /// same instant; the one that went to sleep first runs first (as asyncio's loop orders
    /// them), so the consumer takes an item before the next one is put: the peak is 2.
    @Test func secondTutorialProgram_unbounded_peaksAtTwo_andEndsAtFiveAndAHalfSeconds() async throws {
        let run = try await TestRun.execute(
            pattern, ["items": 5, "producers": 1, "consumers": 1, "maxsize": 0, "produce_ms": 500, "consume_ms": 1000])
        #expect(run.times(of: "queue.put") == [500, 1000, 1500, 2000, 2500])
        #expect(run.times(of: "queue.get") == [500, 1500, 2500, 3500, 4500])
        #expect(run.ints("size", in: "queue.put") == [1, 1, 1, 2, 2])
        #expect(run.result["peak_size"] == 2)
        #expect(run.check("queue_never_exceeded_maxsize") == nil)
        #expect(run.check("producers_blocked_when_full") == nil)
        #expect(run.failedChecks.isEmpty)
        #expect(run.endedAt == .milliseconds(5500))
    }

    @Test func lifoQueue_handsOutTheNewestItem_priorityQueue_theLowestPriority() async throws {
        let lifo = try await TestRun.execute(
            pattern,
            ["items": 4, "producers": 1, "consumers": 1, "maxsize": 0, "produce_ms": 0, "consume_ms": 10, "queue": "lifo"])
        #expect(lifo.result["get_order"] == [3, 2, 1, 0])

        let priority = try await TestRun.execute(
            pattern,
            [
                "items": 6, "producers": 1, "consumers": 1, "maxsize": 0, "produce_ms": 0, "consume_ms": 10,
                "queue": "priority", "seed": 7,
            ])
        let ranks = (0..<6).map { SeededRandom.jitter(seed: 7, index: $0, maxJitter: 9) }
        let expected = (0..<6).sorted { (ranks[$0], $0) < (ranks[$1], $1) }
        #expect(priority.result["get_order"] == .array(expected.map(JSONValue.int)))
        #expect(priority.failedChecks.isEmpty)
    }

    @Test func join_returnsAfterTheLastTaskDone_thenTheConsumersAreCancelled() async throws {
        let run = try await TestRun.execute(
            pattern,
            ["items": 4, "producers": 1, "consumers": 2, "maxsize": 2, "produce_ms": 0, "consume_ms": 30, "join": true])
        #expect(run.status == .succeeded)
        #expect(run.times(of: "queue.task_done") == [30, 30, 60, 60])
        #expect(run.times(of: "queue.joined") == [60])
        #expect(run.result["join_returned_ms"] == .milliseconds(60))
        #expect(run.result["last_task_done_ms"] == .milliseconds(60))
        #expect(run.spans([1, 2], endedWith: .cancelled))  // the consumers, cancelled after join
        #expect(run.timeline.spans.first { $0.label == "join" }?.outcome == .ok)
        #expect(run.check("join_returned_after_last_task_done")?.passed == true)
        #expect(run.failedChecks.isEmpty)
    }

    @Test func manyItems_areCountedInFull_whileEventsAndSpansStayCapped() async throws {
        let run = try await TestRun.execute(
            pattern,
            ["items": 100_000, "producers": 2, "consumers": 3, "maxsize": 100, "produce_ms": 0, "consume_ms": 0],
            eventCap: 1_000)
        #expect(run.result["consumed"] == 100_000)
        #expect(run.result["peak_size"] == 100)
        #expect(run.failedChecks.isEmpty)
        #expect(run.events.count < 1_200)
        #expect(run.timeline.spans.count == 5)
    }

    @Test func cancellingTheRun_stopsProducersAndConsumers() async throws {
        let run = try await TestRun.execute(
            pattern, ["items": 20, "producers": 1, "consumers": 1, "maxsize": 2, "produce_ms": 10, "consume_ms": 30],
            cancelAt: .milliseconds(65))
        #expect(run.status == .cancelled)
        #expect(run.spans([0, 1], endedWith: .cancelled))
        #expect(run.ints("item", in: "queue.get") == [0, 1])
        #expect(run.ints("item", in: "queue.put") == [0, 1, 2, 3])
        #expect(run.ints("item", in: "producer.blocked") == [4])
    }

    // Each check, failed by a variant that breaks its guarantee.

    @Test func aQueueWithoutItsBound_failsTheBoundAndTheBackPressureChecks() async throws {
        let run = try await TestRun.execute(
            ProducerConsumerPattern(fault: .unbounded),
            ["items": 10, "producers": 1, "consumers": 1, "maxsize": 2, "produce_ms": 0, "consume_ms": 10])
        #expect(run.check("queue_never_exceeded_maxsize")?.passed == false)
        #expect(run.check("queue_never_exceeded_maxsize")?.observed == 10)
        #expect(run.check("producers_blocked_when_full")?.passed == false)
    }

    @Test func aDroppedItem_failsEveryItemConsumedExactlyOnce() async throws {
        let run = try await TestRun.execute(ProducerConsumerPattern(fault: .dropsFirstItem), ["items": 5])
        #expect(run.check("every_item_consumed_exactly_once")?.passed == false)
        #expect(run.result["missing"] == 1)
    }

    @Test func taskDoneTwicePerItem_failsUnfinishedNeverBelowZero() async throws {
        let run = try await TestRun.execute(ProducerConsumerPattern(fault: .taskDoneTwice), ["items": 4])
        #expect(run.check("unfinished_never_below_zero")?.passed == false)
        #expect(run.result["task_done_calls"] == 8)
        #expect(run.result["task_done_refused"] == 4)
    }

    @Test func aJoinThatDoesNotWait_failsJoinReturnedAfterLastTaskDone() async throws {
        let run = try await TestRun.execute(ProducerConsumerPattern(fault: .joinDoesNotWait), ["items": 4, "join": true])
        #expect(run.check("join_returned_after_last_task_done")?.passed == false)
    }

    @Test func outOfRangeCounts_areRejected() {
        #expect(validationIssues(pattern, ["items": 0, "maxsize": -1]).map(\.field).sorted() == ["items", "maxsize"])
        #expect(validationIssues(pattern, ["maxsize": 0]).isEmpty)
        #expect(validationIssues(pattern, ["queue": "stack"]).map(\.field) == ["queue"])
        #expect(validationIssues(pattern, ["items": 1_000_000, "produce_ms": 0, "consume_ms": 0]).isEmpty)
        #expect(validationIssues(pattern, ["items": 1_000_001]).map(\.field) == ["items"])
    }
}
