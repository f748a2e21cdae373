import LabJSON

/// producer-consumer: producers and consumers decoupled by a queue with asyncio's semantics.
///
/// - Parameters: `items` (1...maxGatherCount) in all, made by `producers` and handled by
///   `consumers` (1...maxCount each); `maxsize` (0...maxCount; 0 is unbounded, as in
///   asyncio); `queue`: `fifo` | `lifo` | `priority` (asyncio's Queue, LifoQueue,
///   PriorityQueue; priorities 0-9 drawn from `seed`, lowest first); `produce_ms` and
///   `consume_ms` (0...maxDelayMs), the time to make and to handle one item; `join`: the
///   producers' side awaits `queue.join()` and then cancels the consumers (the asyncio
///   documentation's worker example) instead of shutting the queue down.
/// - Events: `task.started` per producer and consumer; per item (capped): `queue.put` (item,
///   producer, `size` after, `unfinished`, `producers_blocked`), `producer.blocked` when a put
///   finds the queue full, `queue.get` (item, consumer, `size` after), `queue.task_done`
///   (item, `unfinished` left); with `join`, the join's own task and `queue.joined`;
///   `task.finished` / `task.cancelled` as each ends; `progress` counts consumed items.
/// - Cancellation: producers and consumers stop at their next put, get or sleep; items in the
///   queue are dropped with it. The run ends `cancelled`.
/// - Checks: the queue never held more than maxsize (its own high-water mark, when bounded);
///   every item was consumed exactly once (a counter per item, one byte each); when the
///   parameters make back-pressure certain, producers were blocked; task_done was never
///   refused (the unfinished count never went below zero); with `join`, join returned only
///   after the last task_done, with nothing unfinished.
///
/// Counting follows asyncio: a put always enqueues, and an item put while a consumer waits
/// is in the queue (and in its size) until that consumer runs and takes it. The producers
/// and consumers take turns on one `EventLoop`, as asyncio's tasks do, so the sizes observed
/// are the ones the same asyncio program observes. End of stream without `join`: once every
/// producer is done the queue is shut down and each consumer drains it and receives nil (the
/// None sentinel of the tutorials, which is therefore not counted as an item).
public struct ProducerConsumerPattern: Pattern {
    /// Ways to break one guarantee each, so tests can show that its check fails.
    enum Fault: Sendable {
        /// The queue is built without its bound.
        case unbounded
        /// Item 0 is taken but never counted as consumed.
        case dropsFirstItem
        /// Consumers call task_done twice per item.
        case taskDoneTwice
        /// The producers' side does not wait in join().
        case joinDoesNotWait
    }

    let fault: Fault?

    public init() { fault = nil }
    init(fault: Fault?) { self.fault = fault }

    public let name = "producer-consumer"
    public let title = "Producer/consumer: a queue with back-pressure"
    public let summary = "Producers put items into a queue while consumers take them out; when a bounded queue is full a producer waits for room, so a fast producer is held to the consumers' pace. task_done and join show when every item has been handled."
    public let asyncioEquivalent = "asyncio.Queue(maxsize) (LifoQueue, PriorityQueue): put/get, task_done/join, a None sentinel"
    public let swiftEquivalent = "AsyncQueue (Mutex + Deque/Heap + continuations), producers and consumers isolated to one actor"
    public let swiftNote = "AsyncStream's buffering policies drop elements instead of suspending the producer; back-pressure needs a queue whose put suspends. Swift runs tasks in parallel on a thread pool, where a woken consumer could take an item while the producer is still putting: here they are isolated to one actor, which runs one of them at a time like asyncio's loop, so qsize counts what asyncio counts. shutdown() (asyncio 3.13) replaces the sentinel; task_done beyond the puts throws, as asyncio's raises ValueError."
    public let invariants = [
        "queue size never > maxsize (when bounded)",
        "every item consumed exactly once",
        "producers blocked when the queue was full (when the parameters make it certain)",
        "task_done never called more often than items were put (unfinished never below zero)",
        "with join: join returns only after the last task_done",
    ]
    public let eventNames = ["queue.put", "producer.blocked", "queue.get", "queue.task_done", "queue.joined"]
    public let counters = [
        CounterSpec("size", "items in the queue"),
        CounterSpec("producers_blocked", "producers waiting for room"),
        CounterSpec("unfinished", "items put and not yet task_done"),
    ]

    public func parameters(limits: PatternLimits) -> [ParameterSpec] {
        [
            .integer("items", default: 20, min: 1, max: limits.maxGatherCount, "How many items to pass through the queue."),
            .integer("producers", default: 2, min: 1, max: limits.maxCount, "How many tasks produce."),
            .integer("consumers", default: 2, min: 1, max: limits.maxCount, "How many tasks consume."),
            .integer("maxsize", default: 4, min: 0, max: limits.maxCount, "The queue's bound; 0 for none (asyncio's default)."),
            .integer("produce_ms", default: 10, min: 0, max: limits.maxDelayMs, "Time to produce one item."),
            .integer("consume_ms", default: 50, min: 0, max: limits.maxDelayMs, "Time to consume one item."),
            .choice(
                "queue", default: "fifo", choices: QueueDiscipline.allCases.map(\.rawValue),
                "fifo: asyncio.Queue; lifo: LifoQueue; priority: PriorityQueue (lowest priority first)."),
            .boolean("join", default: false, "The producers' side awaits queue.join(), then cancels the consumers."),
            .integer("seed", default: 42, min: 0, max: Int(Int32.max), "Seed for the items' priorities (queue=priority)."),
        ]
    }

    public func plannedDuration(_ parameters: ParameterSet) -> Duration {
        let items = parameters.int("items")
        let producing = items.dividedRoundingUp(by: parameters.int("producers")) * parameters.int("produce_ms")
        let consuming = items.dividedRoundingUp(by: parameters.int("consumers")) * parameters.int("consume_ms")
        return .milliseconds(max(producing, consuming))
    }

    public func run(_ parameters: ParameterSet, context: RunContext) async throws -> PatternOutcome {
        let shape = QueueShape(parameters)
        context.recorder.setTotal(shape.items)
        let queue = AsyncQueue<Int>(maxsize: fault == .unbounded ? 0 : shape.maxsize, discipline: shape.discipline)
        let tally = Locked(QueueTally(items: shape.items))
        let loop = EventLoop()
        let startMs = context.elapsedMs()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for consumer in 0..<shape.consumers {
                group.addTask { try await consumeUntilStopped(as: consumer, on: loop, shape, queue, tally, context) }
            }
            try await withThrowingTaskGroup(of: Void.self) { producers in
                for producer in 0..<shape.producers {
                    producers.addTask { try await produce(as: producer, on: loop, shape, queue, tally, context) }
                }
                try await producers.waitForAll()
            }
            if shape.join {
                try await awaitJoin(shape, queue, tally, context)
                tally.withLock { $0.stopping = true }
                group.cancelAll()
            } else {
                queue.shutdown()
            }
            try await group.waitForAll()
        }
        let wallMs = context.elapsedMs() - startMs
        return outcome(shape, queue: queue, tally: tally.value, wallMs: wallMs)
    }

    private func outcome(_ shape: QueueShape, queue: AsyncQueue<Int>, tally: QueueTally, wallMs: Double) -> PatternOutcome {
        let ledger = tally.ledger.tally()
        var checks: [Check] = []
        if shape.maxsize > 0 {
            checks.append(.atMost("queue_never_exceeded_maxsize", observed: queue.peakCount, limit: shape.maxsize))
        }
        checks.append(
            Check(
                name: "every_item_consumed_exactly_once", expected: "== \(shape.items) items, none twice, none missing",
                observed: .int(ledger.once), passed: ledger.once == shape.items && ledger.twice == 0))
        if shape.backPressureIsCertain {
            checks.append(.atLeast("producers_blocked_when_full", observed: queue.suspendedPuts, minimum: 1))
        }
        checks.append(
            Check(
                name: "unfinished_never_below_zero", expected: "0 task_done calls refused (\(tally.taskDoneCalls) made)",
                observed: .int(tally.taskDoneRefused), passed: tally.taskDoneRefused == 0))
        if shape.join { checks.append(joinCheck(tally)) }
        return PatternOutcome(result: figures(shape, queue, tally, ledger, wallMs), checks: checks)
    }

    private func joinCheck(_ tally: QueueTally) -> Check {
        let lastMs = tally.lastTaskDoneMs.map { JSONValue.milliseconds($0).serialized() } ?? "never"
        let returned = tally.joinReturn
        let passed = returned.map { $0.sequence > tally.lastTaskDoneSequence && $0.unfinished == 0 } ?? false
        return Check(
            name: "join_returned_after_last_task_done",
            expected: "after the last task_done (at \(lastMs) ms), with 0 unfinished",
            observed: returned.map { .string("at \(JSONValue.milliseconds($0.ms).serialized()) ms, \($0.unfinished) unfinished") }
                ?? .null,
            passed: passed)
    }

    private func figures(
        _ shape: QueueShape, _ queue: AsyncQueue<Int>, _ tally: QueueTally,
        _ ledger: (consumed: Int, once: Int, twice: Int, missing: Int), _ wallMs: Double
    ) -> [String: JSONValue] {
        [
            "items": .int(shape.items), "consumed": .int(ledger.consumed), "duplicates": .int(ledger.twice),
            "missing": .int(ledger.missing), "peak_size": .int(queue.peakCount), "maxsize": .int(shape.maxsize),
            "queue": .string(shape.discipline.rawValue), "get_order": .array(tally.getOrder.map(JSONValue.int)),
            "producer_blocked": .int(tally.blockedPuts), "puts_suspended": .int(queue.suspendedPuts),
            "task_done_calls": .int(tally.taskDoneCalls), "task_done_refused": .int(tally.taskDoneRefused),
            "unfinished_at_end": .int(queue.unfinishedTasks),
            "last_task_done_ms": tally.lastTaskDoneMs.map(JSONValue.milliseconds) ?? .null,
            "join_returned_ms": tally.joinReturn.map { .milliseconds($0.ms) } ?? .null,
            "wall_ms": .milliseconds(wallMs),
            "items_per_second": wallMs > 0 ? .double((Double(ledger.consumed) / wallMs * 1000).rounded()) : .null,
        ]
    }
}
