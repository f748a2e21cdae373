/// The producer-consumer run's tasks. Producers and consumers are isolated to the run's
/// `EventLoop`: between two suspensions each runs alone, as asyncio's tasks do.
extension ProducerConsumerPattern {
    func produce(
        as producer: Int, on loop: isolated EventLoop, _ shape: QueueShape, _ queue: AsyncQueue<Int>,
        _ tally: Locked<QueueTally>, _ context: RunContext
    ) async throws {
        try await context.task(producer, label: "producer-\(producer)", countsAsProgress: false) {
            // The closure runs on the loop because `RunContext.task` takes its body as
            // `nonisolated(nonsending)`, which runs on its caller's executor (here the loop's).
            // One that ran on the thread pool let a consumer take items between two puts that
            // asyncio's producer makes without a turn in between (a debug build saw a queue
            // peak of 2 for asyncio's 3 in half its runs). The check keeps it so.
            loop.assertIsolated("a producer runs on the run's loop")
            for item in stride(from: producer, to: shape.items, by: shape.producers) {
                try Task.checkCancellation()
                if shape.produceMs > 0 { try await context.sleep(ms: shape.produceMs) }
                let size = try await put(item, by: producer, shape, queue, tally, context)
                let blocked = tally.withLock { $0.blockedNow }
                context.emit(
                    "queue.put",
                    [
                        "item": .int(item), "producer": .int(producer), "size": .int(size),
                        "unfinished": .int(queue.unfinishedTasks), "producers_blocked": .int(blocked),
                    ])
            }
        }
    }

    /// `await queue.put(item)`, announcing the wait when the queue is full. It runs where its
    /// caller runs (on the loop), so a put that finds room does not give the loop away.
    nonisolated(nonsending) private func put(
        _ item: Int, by producer: Int, _ shape: QueueShape, _ queue: AsyncQueue<Int>, _ tally: Locked<QueueTally>,
        _ context: RunContext
    ) async throws -> Int {
        let priority = shape.priority(of: item)
        switch queue.tryPut(item, priority: priority) {
        case .inserted(let size): return size
        case .shutDown: throw QueueShutDown()
        case .full: break
        }
        let blocked = tally.withLock { tally -> Int in
            tally.blockedPuts += 1
            tally.blockedNow += 1
            return tally.blockedNow
        }
        context.emit(
            "producer.blocked",
            ["producer": .int(producer), "item": .int(item), "size": .int(queue.count), "producers_blocked": .int(blocked)])
        defer { tally.withLock { $0.blockedNow -= 1 } }
        return try await queue.put(item, priority: priority)
    }

    /// A consumer; with `join` it is cancelled once join returned, which is how it ends.
    func consumeUntilStopped(
        as consumer: Int, on loop: isolated EventLoop, _ shape: QueueShape, _ queue: AsyncQueue<Int>,
        _ tally: Locked<QueueTally>, _ context: RunContext
    ) async throws {
        do {
            try await context.task(shape.producers + consumer, label: "consumer-\(consumer)", countsAsProgress: false) {
                loop.assertIsolated("a consumer runs on the run's loop")  // see `produce`
                while let (item, size) = try await queue.get() {
                    tally.withLock { $0.recordGet(item) }
                    context.emit("queue.get", ["item": .int(item), "consumer": .int(consumer), "size": .int(size)])
                    if shape.consumeMs > 0 { try await context.sleep(ms: shape.consumeMs) }
                    if !(fault == .dropsFirstItem && item == 0) { tally.withLock { $0.ledger.consume(item) } }
                    context.recorder.advanceProgress()
                    markDone(item, queue, tally, context)
                    if fault == .taskDoneTwice { markDone(item, queue, tally, context) }
                }
            }
        } catch is CancellationError {
            if !tally.withLock({ $0.stopping }) { throw CancellationError() }
        }
    }

    /// `queue.task_done()`: the call is logged before it is made, so a join that returns
    /// after it is seen after it, whichever thread runs first afterwards.
    private func markDone(_ item: Int, _ queue: AsyncQueue<Int>, _ tally: Locked<QueueTally>, _ context: RunContext) {
        let now = context.elapsedMs()
        tally.withLock { $0.recordTaskDoneCall(at: now) }
        do {
            let left = try queue.taskDone()
            context.emit("queue.task_done", ["item": .int(item), "unfinished": .int(left)])
        } catch {
            tally.withLock { $0.taskDoneRefused += 1 }
            context.emit("queue.task_done_refused", ["item": .int(item), "unfinished": .int(queue.unfinishedTasks)])
        }
    }

    /// The producers' side: `await queue.join()`, as a task of the timeline of its own.
    func awaitJoin(_ shape: QueueShape, _ queue: AsyncQueue<Int>, _ tally: Locked<QueueTally>, _ context: RunContext)
        async throws
    {
        try await context.task(shape.producers + shape.consumers, label: "join", countsAsProgress: false) {
            if fault != .joinDoesNotWait { try await queue.join() }
        }
        let now = context.elapsedMs()
        let unfinished = queue.unfinishedTasks
        tally.withLock { $0.recordJoinReturn(at: now, unfinished: unfinished) }
        context.recorder.milestone("queue.joined", ["unfinished": .int(unfinished)])
    }
}
