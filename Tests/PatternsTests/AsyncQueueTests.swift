import Patterns
import TestSupport
import Testing

/// Puts "a" and "b" on `loop` (nothing else on the loop runs until it suspends), with the
/// queue's size after each put as the put saw it and as `count` reads it.
private func putTwo(on loop: isolated EventLoop, _ queue: AsyncQueue<String>) async throws -> [Int] {
    [try await queue.put("a"), queue.count, try await queue.put("b"), queue.count]
}

/// Puts `item` on `loop`, then cancels `getter` before anything else on the loop runs.
private func put(_ item: Int, thenCancel getter: Task<Int?, any Error>, on loop: isolated EventLoop, _ queue: AsyncQueue<Int>)
    async throws
{
    try await queue.put(item)
    getter.cancel()
}

private func getOnLoop<T: Sendable>(_ loop: isolated EventLoop, _ queue: AsyncQueue<T>) async throws -> T? {
    try await queue.get()?.element
}

@Suite struct AsyncQueueTests {
    @Test func putIntoAFullQueue_waitsForAGet_andKeepsFIFO() async throws {
        let queue = AsyncQueue<Int>(maxsize: 2)
        #expect(try await queue.put(1) == 1)
        #expect(try await queue.put(2) == 2)
        #expect(queue.tryPut(3) == .full)
        let putter = Task { try await queue.put(3) }
        try await waitUntil { queue.waitingPutters == 1 }
        #expect(queue.count == 2)

        #expect(try await queue.get()?.element == 1)
        #expect(try await putter.value == 2)
        #expect(try await queue.get()?.element == 2)
        #expect(try await queue.get()?.element == 3)
        #expect(queue.peakCount == 2)
        #expect(queue.suspendedPuts == 1)
    }

    /// asyncio's qsize: waking a getter hands it nothing; the item is in the queue until the
    /// getter runs and takes it, which on one loop is after the putter suspends.
    @Test func anItemPutWhileAGetterWaits_isCountedUntilTheGetterTakesIt() async throws {
        let loop = EventLoop()
        let queue = AsyncQueue<String>()
        let getter = Task { try await getOnLoop(loop, queue) }
        try await waitUntil { queue.waitingGetters == 1 }
        let sizes = try await putTwo(on: loop, queue)
        #expect(sizes == [1, 1, 2, 2])
        #expect(try await getter.value == "a")
        #expect(queue.count == 1)
        #expect(queue.peakCount == 2)
    }

    @Test func lifoAndPriorityQueues_handOutInTheirOrder() async throws {
        let lifo = AsyncQueue<Int>(discipline: .lifo)
        for item in [1, 2, 3] { try await lifo.put(item) }
        #expect([try await lifo.get()?.element, try await lifo.get()?.element, try await lifo.get()?.element] == [3, 2, 1])

        let priority = AsyncQueue<String>(discipline: .priority)
        for (item, rank) in [("c", 5), ("a", 1), ("b", 5), ("d", 0)] { try await priority.put(item, priority: rank) }
        var taken: [String] = []
        while case .item(let item, _) = priority.tryGet() { taken.append(item) }
        #expect(taken == ["d", "a", "c", "b"])  // equal priorities in the order they were put
    }

    @Test func maxsizeZero_isUnbounded() async throws {
        let queue = AsyncQueue<Int>(maxsize: 0)
        for item in 0..<10_000 { #expect(queue.tryPut(item) == .inserted(size: item + 1)) }
        #expect(queue.peakCount == 10_000)
        #expect(queue.suspendedPuts == 0)
    }

    @Test func join_waitsUntilEveryItemIsMarkedDone_andTaskDoneBeyondThePutsThrows() async throws {
        let queue = AsyncQueue<Int>()
        try await queue.join()  // nothing unfinished: returns at once
        try await queue.put(1)
        try await queue.put(2)
        let joiner = Task { try await queue.join() }
        _ = try await queue.get()
        _ = try await queue.get()
        #expect(try queue.taskDone() == 1)
        try await waitUntil { queue.unfinishedTasks == 1 }
        #expect(try queue.taskDone() == 0)
        try await joiner.value
        #expect(throws: QueueTaskDoneTooOften.self) { try queue.taskDone() }
        #expect(queue.unfinishedTasks == 0)
    }

    @Test func shutdown_drainsWhatIsLeft_thenGivesNil_andRefusesPuts() async throws {
        let queue = AsyncQueue<Int>(maxsize: 1)
        try await queue.put(1)
        let putter = Task { try await queue.put(2) }
        try await waitUntil { queue.waitingPutters == 1 }
        queue.shutdown()
        await #expect(throws: QueueShutDown.self) { try await putter.value }
        #expect(try await queue.get()?.element == 1)
        #expect(try await queue.get() == nil)
        #expect(queue.tryPut(3) == .shutDown)
    }

    @Test func cancelledPut_insertsNothing_cancelledGet_takesNothing() async throws {
        let full = AsyncQueue<Int>(maxsize: 1)
        try await full.put(1)
        let putter = Task { try await full.put(2) }
        try await waitUntil { full.waitingPutters == 1 }
        putter.cancel()
        await #expect(throws: CancellationError.self) { try await putter.value }
        #expect(full.waitingPutters == 0)
        #expect(full.count == 1)
        #expect(full.unfinishedTasks == 1)

        let empty = AsyncQueue<Int>()
        let getter = Task { try await empty.get() }
        try await waitUntil { empty.waitingGetters == 1 }
        getter.cancel()
        await #expect(throws: CancellationError.self) { try await getter.value }
        try await empty.put(7)
        #expect(try await empty.get()?.element == 7)
    }

    /// A getter woken by a put and cancelled before it ran passes the wake-up on: the item
    /// goes to the next getter instead of waiting in the queue for nobody.
    @Test func aWokenGetterCancelledBeforeItRuns_passesTheWakeupOn() async throws {
        let loop = EventLoop()
        let queue = AsyncQueue<Int>()
        let first = Task { try await getOnLoop(loop, queue) }
        try await waitUntil { queue.waitingGetters == 1 }
        let second = Task { try await getOnLoop(loop, queue) }
        try await waitUntil { queue.waitingGetters == 2 }
        try await put(42, thenCancel: first, on: loop, queue)  // the first getter, woken, cannot run yet
        await #expect(throws: CancellationError.self) { try await first.value }
        #expect(try await second.value == 42)
    }

    @Test func manyProducersAndConsumers_deliverEveryItemExactlyOnce() async throws {
        let queue = AsyncQueue<Int>(maxsize: 3)
        let items = 20_000
        let seen = Locked([UInt8](repeating: 0, count: items))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    while let (item, _) = try await queue.get() { seen.withLock { $0[item] += 1 } }
                }
            }
            try await withThrowingTaskGroup(of: Void.self) { producers in
                for producer in 0..<4 {
                    producers.addTask {
                        for item in stride(from: producer, to: items, by: 4) { try await queue.put(item) }
                    }
                }
                try await producers.waitForAll()
            }
            queue.shutdown()
            try await group.waitForAll()
        }
        #expect(seen.value.allSatisfy { $0 == 1 })
        #expect(queue.peakCount <= 3)
    }
}
