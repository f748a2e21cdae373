import Patterns
import TestSupport
import Testing

@Suite struct BoundedQueueTests {
    @Test func putIntoAFullQueue_waitsForAGet_andKeepsFIFO() async throws {
        let queue = BoundedQueue<Int>(capacity: 2)
        #expect(try await queue.put(1) == 1)
        #expect(try await queue.put(2) == 2)
        #expect(queue.tryPut(3) == .full)
        let putter = Task { try await queue.put(3) }
        try await waitUntil { queue.waitingPutters == 1 }
        #expect(queue.count == 2)

        #expect(try await queue.get() == 1)
        #expect(try await putter.value == 2)  // admitted into the room the get made
        #expect(try await queue.get() == 2)
        #expect(try await queue.get() == 3)
        #expect(queue.peakCount == 2)
        #expect(queue.suspendedPuts == 1)
    }

    @Test func getFromAnEmptyQueue_waits_andReceivesThePutDirectly() async throws {
        let queue = BoundedQueue<String>(capacity: 1)
        let getter = Task { try await queue.get() }
        try await waitUntil { queue.waitingGetters == 1 }
        #expect(queue.tryPut("a") == .enqueued(size: 0))
        #expect(try await getter.value == "a")
        #expect(queue.count == 0)
    }

    @Test func waitingGetters_areServedInOrder() async throws {
        let queue = BoundedQueue<Int>(capacity: 4)
        let received = Locked<[Int: Int]>([:])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for getter in 0..<3 {
                group.addTask {
                    let item = try await queue.get()
                    received.withLock { $0[getter] = item }
                }
                try await waitUntil { queue.waitingGetters == getter + 1 }
            }
            for item in [10, 11, 12] { try await queue.put(item) }
            try await group.waitForAll()
        }
        #expect(received.value == [0: 10, 1: 11, 2: 12])
    }

    @Test func finish_drainsWhatIsLeft_thenGivesNil_andRefusesPuts() async throws {
        let queue = BoundedQueue<Int>(capacity: 3)
        try await queue.put(1)
        let idle = Task { () -> [Int?] in [try await queue.get(), try await queue.get()] }
        try await waitUntil { queue.waitingGetters == 1 }
        queue.finish()
        #expect(try await idle.value == [1, nil])
        #expect(queue.tryPut(2) == .finished)
        await #expect(throws: BoundedQueueFinished.self) { try await queue.put(2) }
    }

    @Test func cancelledPut_insertsNothing_cancelledGet_takesNothing() async throws {
        let full = BoundedQueue<Int>(capacity: 1)
        try await full.put(1)
        let putter = Task { try await full.put(2) }
        try await waitUntil { full.waitingPutters == 1 }
        putter.cancel()
        await #expect(throws: CancellationError.self) { try await putter.value }
        #expect(full.waitingPutters == 0)
        #expect(try await full.get() == 1)
        #expect(full.count == 0)

        let empty = BoundedQueue<Int>(capacity: 1)
        let getter = Task { try await empty.get() }
        try await waitUntil { empty.waitingGetters == 1 }
        getter.cancel()
        await #expect(throws: CancellationError.self) { try await getter.value }
        try await empty.put(7)
        #expect(try await empty.get() == 7)
    }

    @Test func manyProducersAndConsumers_deliverEveryItemExactlyOnce() async throws {
        let queue = BoundedQueue<Int>(capacity: 3)
        let items = 20_000
        let seen = Locked([UInt8](repeating: 0, count: items))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for consumer in 0..<3 {
                _ = consumer
                group.addTask {
                    while let item = try await queue.get() { seen.withLock { $0[item] += 1 } }
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
            queue.finish()
            try await group.waitForAll()
        }
        #expect(seen.value.allSatisfy { $0 == 1 })
        #expect(queue.peakCount <= 3)
    }
}
