import Patterns
import TestSupport
import Testing

@Suite struct AsyncConditionTests {
    /// A waiter: takes the lock, waits, and records its turn while holding the lock again.
    private func waiter(_ condition: AsyncCondition, _ name: Int, _ woken: Locked<[Int]>) async throws {
        try await condition.acquire()
        defer { condition.release() }
        try await condition.wait()
        #expect(condition.isLocked)
        woken.withLock { $0.append(name) }
    }

    @Test func notifyN_wakesAtMostN_firstComeFirstServed_eachHoldingTheLockAgain() async throws {
        let condition = AsyncCondition()
        let woken = Locked<[Int]>([])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for name in 0..<3 {
                group.addTask { try await waiter(condition, name, woken) }
                try await waitUntil { condition.waitingCount == name + 1 }
            }
            try await condition.acquire()
            #expect(condition.notify(2) == 2)
            condition.release()
            try await waitUntil { woken.value.count == 2 }
            #expect(woken.value == [0, 1])
            #expect(condition.waitingCount == 1)
            try await condition.acquire()
            #expect(condition.notifyAll() == 1)
            condition.release()
            try await group.waitForAll()
        }
        #expect(woken.value == [0, 1, 2])
    }

    @Test func waitFor_checksThePredicateAgainAfterEveryWakeUp() async throws {
        let condition = AsyncCondition()
        let value = Locked(0)
        let checks = Locked(0)
        let waiting = Task {
            try await condition.acquire()
            defer { condition.release() }
            try await condition.waitFor {
                checks.withLock { $0 += 1 }
                return value.value >= 2
            }
            return value.value
        }
        for step in 1...2 {
            try await waitUntil { condition.waitingCount == 1 }
            try await condition.acquire()
            value.withLock { $0 = step }
            condition.notify()
            condition.release()
        }
        #expect(try await waiting.value == 2)
        #expect(checks.value == 3)
    }

    @Test func aCancelledWaiter_leaves_andHoldsTheLockAgainWhenItThrows() async throws {
        let condition = AsyncCondition()
        let held = Locked<Bool?>(nil)
        let waiting = Task {
            try await condition.acquire()
            defer { condition.release() }
            do {
                try await condition.wait()
            } catch {
                held.withLock { $0 = condition.isLocked }
                throw error
            }
        }
        try await waitUntil { condition.waitingCount == 1 }
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        #expect(held.value == true)
        #expect(condition.waitingCount == 0)
        #expect(!condition.isLocked)
    }

    /// A waiter notified and cancelled before it ran passes the notification on: one notify
    /// lets exactly one of the two waiters proceed, never none.
    @Test func aNotifiedWaiterCancelledBeforeItRuns_doesNotLoseTheWakeUp() async throws {
        let condition = AsyncCondition()
        let woken = Locked<[Int]>([])
        let first = Task { try await waiter(condition, 0, woken) }
        try await waitUntil { condition.waitingCount == 1 }
        let second = Task { try await waiter(condition, 1, woken) }
        try await waitUntil { condition.waitingCount == 2 }
        try await condition.acquire()
        condition.notify(1)
        first.cancel()
        condition.release()
        _ = try? await first.value
        try await waitUntil { woken.value.count == 1 }
        if woken.value == [0] {
            try await condition.acquire()
            condition.notify(1)
            condition.release()
        }
        try await second.value
        #expect(woken.value.contains(1))
    }
}
