import Patterns
import TestSupport
import Testing

@Suite struct ChunkedTaskGroupTests {
    /// On the virtual executor: every child runs once, admitted and started in index order,
    /// chunked or not.
    @Test(arguments: [0, 1, 7, 8, 9, 50])
    func everyChild_runsOnce_inIndexOrder(count: Int) async throws {
        let clock = VirtualClock()
        let executor = try VirtualExecutor(clock: clock)
        let (admitted, started) = try await Task(executorPreference: executor) {
            defer { executor.shutdown() }
            let admitted = Locked<[Int]>([])
            let started = Locked<[Int]>([])
            try await ChunkedTaskGroup.run(count: count, chunkSize: 8) { index in
                admitted.withLock { $0.append(index) }
            } _: { index in
                started.withLock { $0.append(index) }
                try await clock.sleep(for: .milliseconds(count - index))
            }
            return (admitted.value, started.value)
        }.value
        #expect(admitted == Array(0..<count))
        #expect(started == Array(0..<count))
    }

    /// Children start as their chunks create them, not once every chunk has: on one thread, the
    /// first chunk's children run before the second chunk admits its first. (Created all up
    /// front, the first of 10,000 sleeping children started 6-8 ms into its run, and the run
    /// ended that much later.)
    @Test func theFirstChunksChildren_runBeforeTheNextChunkIsCreated() async throws {
        let clock = VirtualClock()
        let executor = try VirtualExecutor(clock: clock)
        let steps = try await Task(executorPreference: executor) {
            defer { executor.shutdown() }
            let steps = Locked<[String]>([])
            try await ChunkedTaskGroup.run(count: 24, chunkSize: 8) { index in
                steps.withLock { $0.append("admit \(index)") }
            } _: { index in
                steps.withLock { $0.append("start \(index)") }
                try await clock.sleep(for: .milliseconds(1))
            }
            return steps.value
        }.value
        let firstStart = try #require(steps.firstIndex(of: "start 0"))
        let secondChunk = try #require(steps.firstIndex(of: "admit 8"))
        #expect(firstStart < secondChunk, "\(steps)")
    }

    /// The first error cancels every other child, in every chunk, and is rethrown.
    @Test func anError_cancelsEveryOtherChild_andIsRethrown() async throws {
        struct Injected: Error {}
        let cancelled = Locked(0)
        await #expect(throws: Injected.self) {
            try await ChunkedTaskGroup.run(count: 40, chunkSize: 8) { index in
                if index == 13 { throw Injected() }
                do {
                    try await Task.sleep(for: .seconds(60))
                } catch is CancellationError {
                    cancelled.withLock { $0 += 1 }
                }
            }
        }
        #expect(cancelled.value == 39)
    }
}
