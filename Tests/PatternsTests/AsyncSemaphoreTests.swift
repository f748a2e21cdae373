import Patterns
import TestSupport
import Testing

@Suite struct AsyncSemaphoreTests {
    /// Starts `count` tasks that queue on `semaphore` one after another (each is queued
    /// before the next starts), recording the order in which they get a permit.
    private func queueWaiters(
        _ count: Int, on semaphore: AsyncSemaphore, into order: Locked<[Int]>, group: inout ThrowingTaskGroup<Void, any Error>
    ) async throws {
        for index in 0..<count {
            group.addTask {
                try await semaphore.acquire()
                order.withLock { $0.append(index) }
            }
            try await waitUntil("waiter \(index) queued") { semaphore.waitingCount == index + 1 }
        }
    }

    @Test func waiters_getPermitsFirstComeFirstServed() async throws {
        let semaphore = AsyncSemaphore(permits: 0)
        let order = Locked<[Int]>([])
        try await withThrowingTaskGroup(of: Void.self) { group in
            try await queueWaiters(5, on: semaphore, into: order, group: &group)
            for released in 1...5 {
                semaphore.release()
                try await waitUntil("\(released) granted") { order.value.count == released }
            }
            try await group.waitForAll()
        }
        #expect(order.value == [0, 1, 2, 3, 4])
        #expect(semaphore.availablePermits == 0)
    }

    @Test func release_handsThePermitToTheWaiter_notToANewcomer() async throws {
        let semaphore = AsyncSemaphore(permits: 0)
        let order = Locked<[Int]>([])
        try await withThrowingTaskGroup(of: Void.self) { group in
            try await queueWaiters(1, on: semaphore, into: order, group: &group)
            semaphore.release()
            #expect(semaphore.tryAcquire() == false)
            try await group.waitForAll()
        }
        #expect(order.value == [0])
    }

    @Test func cancelledWaiter_leavesTheQueue_andLosesNoPermit() async throws {
        let semaphore = AsyncSemaphore(permits: 0)
        let first = Task { try await semaphore.acquire() }
        try await waitUntil { semaphore.waitingCount == 1 }
        let second = Task { try await semaphore.acquire() }
        try await waitUntil { semaphore.waitingCount == 2 }

        first.cancel()
        await #expect(throws: CancellationError.self) { try await first.value }
        #expect(semaphore.waitingCount == 1)

        semaphore.release()
        try await second.value
        #expect(semaphore.availablePermits == 0)
        semaphore.release()
        #expect(semaphore.availablePermits == 1)
    }

    @Test func acquireOnACancelledTask_throws_evenWithAFreePermit() async throws {
        let semaphore = AsyncSemaphore(permits: 1)
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await semaphore.acquire()
        }
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(semaphore.availablePermits == 1)
    }

    @Test func racingCancellations_neverLeakOrLoseAPermit() async throws {
        let semaphore = AsyncSemaphore(permits: 3)
        let holders = Locked((now: 0, peak: 0))
        let tasks = (0..<400).map { _ in
            Task {
                try await semaphore.withPermit {
                    holders.withLock { $0.now += 1; $0.peak = max($0.peak, $0.now) }
                    await Task.yield()
                    holders.withLock { $0.now -= 1 }
                }
            }
        }
        for (index, task) in tasks.enumerated() where index % 3 == 0 { task.cancel() }
        var cancelled = 0
        for task in tasks {
            do { try await task.value } catch { cancelled += 1 }
        }
        #expect(cancelled > 0)
        #expect(semaphore.availablePermits == 3)
        #expect(semaphore.waitingCount == 0)
        #expect(holders.value.peak <= 3)
    }
}
