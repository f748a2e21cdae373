@testable import Patterns
import Synchronization
import Testing

/// The timer queue without its thread: the test decides what "now" is by calling `fireDue`.
@Suite struct TimerQueueTests {
    let base = ContinuousClock.now

    func at(_ milliseconds: Int) -> ContinuousClock.Instant { base.advanced(by: .milliseconds(milliseconds)) }

    /// Yields until `queue` holds `count` sleepers (bounded: a lost sleeper fails the test).
    func settle(_ queue: TimerQueue, count: Int) async {
        for _ in 0..<100_000 where queue.count != count { await Task.yield() }
        #expect(queue.count == count)
    }

    @Test func onlyDueSleepersWake_andTheNextDeadlineIsReported() async throws {
        let queue = TimerQueue()
        let woke = Locked<[String]>([])
        let sleepers = [("c", 30), ("a", 10), ("b", 20), ("a2", 10)].map { name, milliseconds in
            Task {
                try await queue.sleep(until: at(milliseconds))
                woke.withLock { $0.append(name) }
            }
        }
        await settle(queue, count: 4)
        #expect(queue.fireDue(now: at(9)) == at(10))
        #expect(queue.count == 4)
        #expect(queue.fireDue(now: at(15)) == at(20))
        try await sleepers[1].value
        try await sleepers[3].value
        #expect(Set(woke.value) == ["a", "a2"])
        #expect(queue.fireDue(now: at(30)) == nil)
        try await sleepers[0].value
        try await sleepers[2].value
        #expect(Set(woke.value) == ["a", "a2", "b", "c"])
        #expect(queue.count == 0)
    }

    @Test func equalDeadlines_wakeInTheOrderTheySlept() {
        let deadline = at(5)
        #expect(TimerQueue.Entry(deadline: deadline, id: 1) < TimerQueue.Entry(deadline: deadline, id: 2))
        #expect(TimerQueue.Entry(deadline: at(4), id: 9) < TimerQueue.Entry(deadline: deadline, id: 1))
        #expect(!(TimerQueue.Entry(deadline: deadline, id: 1) < TimerQueue.Entry(deadline: at(4), id: 9)))
    }

    /// Entries keep their deadline as an offset (plain bits in the heap); it reads back exactly,
    /// before and after the offsets' origin.
    @Test func anEntry_keepsItsDeadline() {
        for deadline in [at(5), ContinuousClock.now - .seconds(30), ContinuousClock.now + .nanoseconds(1)] {
            #expect(TimerQueue.Entry(deadline: deadline, id: 1).deadline == deadline)
        }
    }

    @Test func cancelledSleeper_throwsAtOnce_andItsEntryIsSkippedWhenDue() async {
        let queue = TimerQueue()
        let sleeper = Task { try await queue.sleep(until: at(1_000)) }
        let other = Task { try await queue.sleep(until: at(2_000)) }
        await settle(queue, count: 2)
        sleeper.cancel()
        await #expect(throws: CancellationError.self) { try await sleeper.value }
        #expect(queue.count == 1)
        // The cancelled entry is still in the heap; firing past it resumes only the other.
        #expect(queue.fireDue(now: at(1_500)) == at(2_000))
        #expect(queue.fireDue(now: at(2_000)) == nil)
        await #expect(throws: Never.self) { try await other.value }
    }

    @Test func alreadyCancelledTask_neverSleeps() async {
        let queue = TimerQueue()
        let sleeper = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await queue.sleep(until: at(1_000))
        }
        await #expect(throws: CancellationError.self) { try await sleeper.value }
        #expect(queue.count == 0)
    }

    @Test func scheduledActions_runOnceWhenDue_andCancelledOnesNever() {
        let queue = TimerQueue()
        let ran = Locked<[String]>([])
        _ = queue.schedule(at: at(20)) { ran.withLock { $0.append("late") } }
        let cancelled = queue.schedule(at: at(10)) { ran.withLock { $0.append("cancelled") } }
        _ = queue.schedule(at: at(5)) { ran.withLock { $0.append("early") } }
        queue.cancel(timer: cancelled)
        #expect(queue.count == 2)
        #expect(queue.fireDue(now: at(15)) == at(20))
        #expect(ran.value == ["early"])
        #expect(queue.fireDue(now: at(25)) == nil)
        #expect(queue.fireDue(now: at(99)) == nil)
        #expect(ran.value == ["early", "late"])
    }

    /// Cancelled entries do not pile up: once most of the heap is dead it is rebuilt, and
    /// what is still scheduled still runs.
    @Test func cancelledEntries_areDropped_onceTheyOutnumberTheLiveOnes() {
        let queue = TimerQueue()
        let ran = Locked(0)
        let ids = (0..<3_000).map { _ in queue.schedule(at: at(1_000)) { ran.withLock { $0 += 1 } } }
        for id in ids.dropLast(10) { queue.cancel(timer: id) }
        #expect(queue.count == 10)
        #expect(queue.heapEntries < 1_100)
        #expect(queue.fireDue(now: at(1_000)) == nil)
        #expect(ran.value == 10)
        #expect(queue.heapEntries == 0)
    }

    /// The shared queue's own thread: a sleep never returns before its deadline.
    @Test func sharedQueue_wakesSleepers_noEarlierThanTheirDeadline() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for offset in [3, 1, 2, 1] {
                group.addTask {
                    let deadline = ContinuousClock.now.advanced(by: .milliseconds(offset))
                    try await TimerQueue.shared.sleep(until: deadline)
                    #expect(ContinuousClock.now >= deadline)
                }
            }
            try await group.waitForAll()
        }
    }
}
