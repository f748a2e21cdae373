import LabJSON
@testable import Patterns
import TestSupport
import Synchronization
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

    /// Thousands of children added in one go put every child's first step in the executor's
    /// queue ahead of the holders the timer wakes. The adding task yields every `spawnBatch`
    /// children, so a woken holder waits for at most a batch. Shown on one thread taking jobs
    /// in order, with sleeps held in a `TimerQueue` this test fires itself: once child 200
    /// has asked for a permit, the first 64 holders' sleeps end; holder 0 must finish before the
    /// next batch asks (without the yields it finished after every child had asked).
    @Test func addingManyTasks_letsWokenHoldersRunBetweenBatches() async throws {
        let batch = SemaphorePattern.spawnBatch
        let count = batch * 8
        let timers = TimerQueue()
        let sink = FiringSink(timers: timers, firesAt: "semaphore.waiting", task: batch + 72)
        let clock = RunClock(HeldClock(timers: timers), blockThreadUntil: { _ in })
        let context = RunContext(clock: clock, recorder: RunRecorder(clock: clock, sink: sink))
        let parameters = try PatternCatalog(limits: .defaults).validate(
            ["count": .json(.int(count)), "limit": .json(64), "delay_ms": .json(10)], for: pattern
        ).get()
        let executor = try DedicatedThreadsExecutor(width: 1)
        defer { executor.shutdown() }
        let run = Task(executorPreference: executor) {
            try await pattern.run(parameters, context: context)
        }
        // Later holders sleep in the queue too: once the trigger fired, fire until the run ends
        // (bounded: a run that stops making progress fails the test instead of hanging it).
        var polls = 0
        while sink.order.filter({ $0 == "task.finished" }).count < count {
            polls += 1
            try #require(polls <= 20_000, "the run stopped before its \(count) tasks finished")
            if sink.hasFired { timers.fireDue(now: .now + .seconds(3_600)) }
            try await Task.sleep(for: .milliseconds(1))
        }
        _ = try await run.value
        let events = sink.events
        let holderDone = try #require(events.firstIndex(of: "task.finished 0"))
        let nextBatchAsks = try #require(events.firstIndex(of: "semaphore.waiting \(2 * batch)"))
        #expect(holderDone < nextBatchAsks)
        #expect(events.filter { $0.hasPrefix("semaphore.waiting ") } == (0..<count).map { "semaphore.waiting \($0)" })
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

/// A clock that stands still at its origin: its sleeps wait in `timers` (a queue without a
/// thread) until the test fires them.
private struct HeldClock: Clock {
    struct Instant: InstantProtocol {
        var offset: Duration
        func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        func duration(to other: Instant) -> Duration { other.offset - offset }
        static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }
    }

    let timers: TimerQueue
    let base = ContinuousClock.now
    var now: Instant { Instant(offset: .zero) }
    var minimumResolution: Duration { .nanoseconds(1) }

    func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        try await timers.sleep(until: base.advanced(by: deadline.offset))
    }
}

/// Keeps `name task` for every event, and fires `timers` (synchronously, on the run's thread)
/// when the event `name` of `task` arrives.
private final class FiringSink: RunEventSink, Sendable {
    private let timers: TimerQueue
    private let trigger: String
    private let seen = Mutex<[String]>([])
    private let fired = Atomic<Bool>(false)

    init(timers: TimerQueue, firesAt name: String, task: Int) {
        self.timers = timers
        trigger = "\(name) \(task)"
    }

    func append(_ event: RunEvent) {
        let task = event.data["task"]?.intValue
        let line = task.map { "\(event.name) \($0)" } ?? event.name
        seen.withLock { $0.append(line) }
        if line == trigger {
            timers.fireDue(now: .now + .seconds(3_600))
            fired.store(true, ordering: .sequentiallyConsistent)
        }
    }

    var hasFired: Bool { fired.load(ordering: .sequentiallyConsistent) }

    /// `name task` per event, in the order they arrived.
    var events: [String] { seen.withLock { $0 } }
    /// Event names only.
    var order: [String] { events.map { String($0.split(separator: " ").first ?? "") } }
}
