import Patterns
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
        #expect(
            trace(run) == [
                "queue.put 0 size=0", "queue.put 1 size=1", "producer.blocked 2 size=1", "queue.get 0 size=1",
                "queue.get 1 size=1", "queue.put 2 size=1", "producer.blocked 3 size=1", "queue.get 2 size=1",
                "queue.put 3 size=1", "queue.get 3 size=0",
            ])
        #expect(run.times(of: "queue.get") == [0, 10, 20, 30])
        #expect(run.result["peak_size"] == 1)
        #expect(run.result["puts_suspended"] == 2)
        #expect(run.checkNames == ["queue_never_exceeded_maxsize", "every_item_consumed_exactly_once", "producers_blocked_when_full"])
        #expect(run.failedChecks.isEmpty)
        #expect(run.endedAt == .milliseconds(40))
    }

    @Test func fastConsumers_neverBlockTheProducer_andNoBlockingIsClaimed() async throws {
        let run = try await TestRun.execute(
            pattern, ["items": 6, "producers": 1, "consumers": 2, "maxsize": 2, "produce_ms": 10, "consume_ms": 5])
        #expect(run.events(named: "producer.blocked").isEmpty)
        #expect(run.check("producers_blocked_when_full") == nil)
        #expect(run.ints("item", in: "queue.get") == [0, 1, 2, 3, 4, 5])
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

    @Test func outOfRangeCounts_areRejected() {
        #expect(validationIssues(pattern, ["items": 0, "maxsize": 0]).map(\.field).sorted() == ["items", "maxsize"])
        #expect(validationIssues(pattern, ["items": 1_000_000, "produce_ms": 0, "consume_ms": 0]).isEmpty)
        #expect(validationIssues(pattern, ["items": 1_000_001]).map(\.field) == ["items"])
    }
}
