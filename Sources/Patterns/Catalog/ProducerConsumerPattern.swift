/// producer-consumer: producers and consumers decoupled by a bounded queue.
///
/// - Parameters: `items` (1...maxGatherCount) in all, made by `producers` and handled by
///   `consumers` (1...maxCount each); `maxsize` (1...maxCount), the queue's bound;
///   `produce_ms` and `consume_ms` (0...maxDelayMs), the time to make and to handle one.
/// - Events: `task.started` per producer and consumer; per item (capped): `queue.put`
///   (item, producer, size after), `producer.blocked` when a put finds the queue full,
///   `queue.get` (item, consumer, size after); `task.finished` as each ends; `progress`
///   counts consumed items.
/// - Cancellation: producers and consumers stop at their next put, get or sleep; items in
///   the queue are dropped with it. The run ends `cancelled`.
/// - Checks: the queue never held more than maxsize (its own high-water mark); every item
///   was consumed exactly once (a counter per item, one byte each); when the parameters
///   make back-pressure certain (producers can fill the queue and every consumer's hands
///   before the first consumer finishes its first item), producers were blocked.
///
/// End of stream: when every producer is done the queue is finished, and each consumer
/// drains it and receives nil: the sentinel of the asyncio version, built into the queue.
public struct ProducerConsumerPattern: Pattern {
    public init() {}

    public let name = "producer-consumer"
    public let title = "Producer/consumer: a bounded queue with back-pressure"
    public let summary = "Producers put items into a queue of bounded size while consumers take them out; when the queue is full a producer waits for room, so a fast producer is held to the consumers' pace."
    public let asyncioEquivalent = "asyncio.Queue(maxsize) with put/get and a None sentinel"
    public let swiftEquivalent = "BoundedQueue (Mutex + Deque + continuations) between task-group children"
    public let swiftNote = "AsyncStream's buffering policies drop elements instead of suspending the producer; back-pressure needs a bounded queue whose put suspends. finish() replaces the sentinel: consumers get nil once the queue is drained."
    public let invariants = [
        "queue size never > maxsize",
        "every item consumed exactly once",
        "producers blocked when the queue was full (when the parameters make it certain)",
    ]
    public let eventNames = ["queue.put", "producer.blocked", "queue.get"]

    public func parameters(limits: PatternLimits) -> [ParameterSpec] {
        [
            .integer("items", default: 20, min: 1, max: limits.maxGatherCount, "How many items to pass through the queue."),
            .integer("producers", default: 2, min: 1, max: limits.maxCount, "How many tasks produce."),
            .integer("consumers", default: 2, min: 1, max: limits.maxCount, "How many tasks consume."),
            .integer("maxsize", default: 4, min: 1, max: limits.maxCount, "The queue's bound."),
            .integer("produce_ms", default: 10, min: 0, max: limits.maxDelayMs, "Time to produce one item."),
            .integer("consume_ms", default: 50, min: 0, max: limits.maxDelayMs, "Time to consume one item."),
        ]
    }

    public func plannedDuration(_ parameters: ParameterSet) -> Duration {
        let items = parameters.int("items")
        let producing = items.dividedRoundingUp(by: parameters.int("producers")) * parameters.int("produce_ms")
        let consuming = items.dividedRoundingUp(by: parameters.int("consumers")) * parameters.int("consume_ms")
        return .milliseconds(max(producing, consuming))
    }

    public func run(_ parameters: ParameterSet, context: RunContext) async throws -> PatternOutcome {
        let shape = Shape(parameters)
        context.recorder.setTotal(shape.items)
        let queue = BoundedQueue<Int>(capacity: shape.maxsize)
        let ledger = Locked(ItemLedger(items: shape.items))
        let blocked = Locked(0)
        let startMs = context.elapsedMs()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for consumer in 0..<shape.consumers {
                group.addTask { try await consume(as: consumer, shape, queue, ledger, context) }
            }
            try await withThrowingTaskGroup(of: Void.self) { producers in
                for producer in 0..<shape.producers {
                    producers.addTask { try await produce(as: producer, shape, queue, blocked, context) }
                }
                try await producers.waitForAll()
            }
            queue.finish()
            try await group.waitForAll()
        }
        let wallMs = context.elapsedMs() - startMs
        return outcome(shape, queue: queue, ledger: ledger.value, blocked: blocked.value, wallMs: wallMs)
    }

    private func produce(
        as producer: Int, _ shape: Shape, _ queue: BoundedQueue<Int>, _ blocked: Locked<Int>, _ context: RunContext
    ) async throws {
        try await context.task(producer, label: "producer-\(producer)", countsAsProgress: false) {
            for item in stride(from: producer, to: shape.items, by: shape.producers) {
                try Task.checkCancellation()
                if shape.produceMs > 0 { try await context.sleep(ms: shape.produceMs) }
                var size: Int
                switch queue.tryPut(item) {
                case .enqueued(let after): size = after
                case .finished: throw BoundedQueueFinished()
                case .full:
                    blocked.withLock { $0 += 1 }
                    context.emit("producer.blocked", ["producer": .int(producer), "item": .int(item), "size": .int(shape.maxsize)])
                    size = try await queue.put(item)
                }
                context.emit("queue.put", ["item": .int(item), "producer": .int(producer), "size": .int(size)])
            }
        }
    }

    private func consume(
        as consumer: Int, _ shape: Shape, _ queue: BoundedQueue<Int>, _ ledger: Locked<ItemLedger>, _ context: RunContext
    ) async throws {
        try await context.task(shape.producers + consumer, label: "consumer-\(consumer)", countsAsProgress: false) {
            while let item = try await queue.get() {
                context.emit("queue.get", ["item": .int(item), "consumer": .int(consumer), "size": .int(queue.count)])
                if shape.consumeMs > 0 { try await context.sleep(ms: shape.consumeMs) }
                ledger.withLock { $0.consume(item) }
                context.recorder.advanceProgress()
            }
        }
    }

    private func outcome(
        _ shape: Shape, queue: BoundedQueue<Int>, ledger: ItemLedger, blocked: Int, wallMs: Double
    ) -> PatternOutcome {
        let tally = ledger.tally()
        var checks: [Check] = [
            .atMost("queue_never_exceeded_maxsize", observed: queue.peakCount, limit: shape.maxsize),
            Check(
                name: "every_item_consumed_exactly_once", expected: "== \(shape.items) items, none twice, none missing",
                observed: .int(tally.once), passed: tally.once == shape.items),
        ]
        if shape.backPressureIsCertain {
            checks.append(.atLeast("producers_blocked_when_full", observed: queue.suspendedPuts, minimum: 1))
        }
        return PatternOutcome(
            result: [
                "items": .int(shape.items), "consumed": .int(tally.consumed), "duplicates": .int(tally.twice),
                "missing": .int(tally.missing), "peak_size": .int(queue.peakCount), "maxsize": .int(shape.maxsize),
                "producer_blocked": .int(blocked), "puts_suspended": .int(queue.suspendedPuts),
                "wall_ms": .milliseconds(wallMs),
                "items_per_second": wallMs > 0 ? .double((Double(tally.consumed) / wallMs * 1000).rounded()) : .null,
            ],
            checks: checks)
    }
}

/// The run's parameters, read once.
private struct Shape: Sendable {
    let items, producers, consumers, maxsize, produceMs, consumeMs: Int

    init(_ parameters: ParameterSet) {
        items = parameters.int("items")
        producers = parameters.int("producers")
        consumers = parameters.int("consumers")
        maxsize = parameters.int("maxsize")
        produceMs = parameters.int("produce_ms")
        consumeMs = parameters.int("consume_ms")
    }

    /// The producers can fill the queue and every consumer's hands before the first
    /// consumer has finished its first item (with a margin for a real clock's noise): the
    /// next put must then wait.
    var backPressureIsCertain: Bool {
        let mustFit = maxsize + consumers + 1
        guard items >= mustFit, consumeMs > 0 else { return false }
        let lastPutMs = Double(mustFit.dividedRoundingUp(by: producers) * produceMs)
        return lastPutMs * 1.2 + 5 <= Double(produceMs + consumeMs)
    }
}

/// How many times each item was consumed: one byte per item, however many there are.
private struct ItemLedger: Sendable {
    private var counts: [UInt8]

    init(items: Int) {
        counts = [UInt8](repeating: 0, count: items)
    }

    mutating func consume(_ item: Int) {
        if counts[item] < .max { counts[item] += 1 }
    }

    func tally() -> (consumed: Int, once: Int, twice: Int, missing: Int) {
        var tally = (consumed: 0, once: 0, twice: 0, missing: 0)
        for count in counts {
            tally.consumed += Int(count)
            switch count {
            case 0: tally.missing += 1
            case 1: tally.once += 1
            default: tally.twice += 1
            }
        }
        return tally
    }
}
