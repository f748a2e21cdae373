import Patterns
import TestSupport
import Testing

@Suite struct AsyncEventTests {
    @Test func waiters_stayUntilSet_thenAllProceed() async throws {
        let event = AsyncEvent()
        let proceeded = Locked(0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    try await event.wait()
                    proceeded.withLock { $0 += 1 }
                }
            }
            try await waitUntil { event.waitingCount == 3 }
            #expect(proceeded.value == 0)
            #expect(event.set() == 3)
            try await group.waitForAll()
        }
        #expect(proceeded.value == 3)
        #expect(event.waitingCount == 0)
    }

    @Test func waitAfterSet_returnsAtOnce_untilCleared() async throws {
        let event = AsyncEvent()
        event.set()
        try await event.wait()
        #expect(event.isSet)
        event.clear()
        let waiter = Task { try await event.wait() }
        try await waitUntil { event.waitingCount == 1 }
        event.set()
        try await waiter.value
    }

    @Test func cancelledWaiter_leaves_othersStillWoken() async throws {
        let event = AsyncEvent()
        let cancelled = Task { try await event.wait() }
        let kept = Task { try await event.wait() }
        try await waitUntil { event.waitingCount == 2 }
        cancelled.cancel()
        await #expect(throws: CancellationError.self) { try await cancelled.value }
        #expect(event.waitingCount == 1)
        #expect(event.set() == 1)
        try await kept.value
    }
}
