/// `count` child tasks, as one `withThrowingDiscardingTaskGroup` adding them one by one
/// would run them, but held in groups of at most `chunkSize` children each (inside one
/// outer group of those groups).
///
/// Why: the Swift runtime keeps a task group's children in a linked list and unlinks a
/// finished child by walking it, so a group of n children that finish in any order but the
/// one they were added in costs O(n) per child: a gather of 100,000 tasks with jitter spent
/// minutes of CPU doing nothing else. Groups of a bounded size make that O(chunkSize).
///
/// What stays the same: children start in index order (`admit(index)` is awaited before
/// child `index` is added, in that order within a group); the first error thrown cancels
/// every other child, and is rethrown once all have ended; cancelling the caller cancels
/// them all. On a one-thread executor the children's jobs run in index order, as they
/// would from one flat group.
public enum ChunkedTaskGroup {
    public static let defaultChunkSize = 512

    nonisolated(nonsending) public static func run(
        count: Int, chunkSize: Int = defaultChunkSize,
        admit: nonisolated(nonsending) @escaping @Sendable (Int) async throws -> Void = { _ in },
        _ body: nonisolated(nonsending) @escaping @Sendable (Int) async throws -> Void
    ) async throws {
        guard count > chunkSize else {
            try await runFlat(0..<count, admit: admit, body)
            return
        }
        try await withThrowingDiscardingTaskGroup { chunks in
            for start in stride(from: 0, to: count, by: chunkSize) {
                let indices = start..<min(start + chunkSize, count)
                chunks.addTask { try await runFlat(indices, admit: admit, body) }
                // Lets the chunk create its children before the next chunk is added: on a FIFO
                // executor, chunks added all at once all ran (creating every child) before any
                // child did, and a gather of 10,000 sleeping tasks started its first 6-8 ms late.
                await Task.yield()
            }
        }
    }

    nonisolated(nonsending) private static func runFlat(
        _ indices: Range<Int>, admit: nonisolated(nonsending) @escaping @Sendable (Int) async throws -> Void,
        _ body: nonisolated(nonsending) @escaping @Sendable (Int) async throws -> Void
    ) async throws {
        try await withThrowingDiscardingTaskGroup { group in
            for index in indices {
                try await admit(index)
                group.addTask { try await body(index) }
            }
        }
    }
}
