import Patterns
import TestSupport
import Testing

@Suite struct AsyncLockTests {
    @Test func readSuspendWrite_underTheLock_losesNoUpdate() async throws {
        let lock = AsyncLock()
        let counter = Locked(0)
        let inside = Locked((now: 0, peak: 0))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<200 {
                group.addTask {
                    try await lock.withLock {
                        inside.withLock { $0.now += 1; $0.peak = max($0.peak, $0.now) }
                        let read = counter.value
                        await Task.yield()
                        counter.withLock { $0 = read + 1 }
                        inside.withLock { $0.now -= 1 }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(counter.value == 200)
        #expect(inside.value.peak == 1)
        #expect(lock.isLocked == false)
    }

    @Test func secondLocker_waitsUntilUnlock() async throws {
        let lock = AsyncLock()
        try await lock.lock()
        let entered = Locked(false)
        let waiter = Task {
            try await lock.withLock { entered.withLock { $0 = true } }
        }
        try await waitUntil { lock.waitingCount == 1 }
        #expect(entered.value == false)
        lock.unlock()
        try await waiter.value
        #expect(entered.value == true)
        #expect(lock.isLocked == false)
    }

    @Test func cancelledWaiter_neverTakesTheLock() async throws {
        let lock = AsyncLock()
        try await lock.lock()
        let waiter = Task { try await lock.lock() }
        try await waitUntil { lock.waitingCount == 1 }
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        lock.unlock()
        #expect(lock.isLocked == false)
    }
}
