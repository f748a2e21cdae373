import Patterns
import TestSupport
import Testing

@Suite struct AsyncBarrierTests {
    @Test func theLastArrivalReleasesEveryone_withTheirArrivalIndices_roundAfterRound() async throws {
        let barrier = AsyncBarrier(parties: 3)
        for _ in 0..<2 {
            let indices = try await withThrowingTaskGroup(of: Int.self) { group in
                for party in 0..<2 {
                    group.addTask { try await barrier.wait() }
                    try await waitUntil { barrier.waitingCount == party + 1 }
                }
                group.addTask { try await barrier.wait() }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(indices.sorted() == [0, 1, 2])
            #expect(barrier.waitingCount == 0)
        }
    }

    @Test func abort_breaksTheWaiters_andLaterCallers_untilReset() async throws {
        let barrier = AsyncBarrier(parties: 2)
        let waiting = Task { try await barrier.wait() }
        try await waitUntil { barrier.waitingCount == 1 }
        barrier.abort()
        await #expect(throws: BrokenBarrierError.self) { try await waiting.value }
        await #expect(throws: BrokenBarrierError.self) { try await barrier.wait() }
        barrier.reset()
        async let first = barrier.wait()
        async let second = barrier.wait()
        #expect(try await [first, second].sorted() == [0, 1])
    }

    @Test func aCancelledParty_leavesItsRound_whichThenNeedsOneMore() async throws {
        let barrier = AsyncBarrier(parties: 2)
        let leaving = Task { try await barrier.wait() }
        try await waitUntil { barrier.waitingCount == 1 }
        leaving.cancel()
        await #expect(throws: CancellationError.self) { try await leaving.value }
        #expect(barrier.waitingCount == 0)
        #expect(!barrier.isBroken)
        async let first = barrier.wait()
        async let second = barrier.wait()
        #expect(try await [first, second].sorted() == [0, 1])
    }
}
