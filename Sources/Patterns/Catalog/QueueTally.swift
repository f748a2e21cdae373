/// What a producer-consumer run observed, counted as it happened.
struct QueueTally: Sendable {
    /// The join's return: when, its place among task_done calls, and what was unfinished.
    struct JoinReturn: Sendable {
        let ms: Double
        let sequence: Int
        let unfinished: Int
    }

    var ledger: ItemLedger
    /// The first hundred items in the order they were taken.
    var getOrder: [Int] = []
    var blockedPuts = 0
    var blockedNow = 0
    var taskDoneCalls = 0
    var taskDoneRefused = 0
    var lastTaskDoneMs: Double?
    var lastTaskDoneSequence = 0
    var joinReturn: JoinReturn?
    /// Set once join returned: the consumers' cancellation that follows is the plan.
    var stopping = false
    private var sequence = 0

    init(items: Int) {
        ledger = ItemLedger(items: items)
    }

    mutating func recordGet(_ item: Int) {
        if getOrder.count < 100 { getOrder.append(item) }
    }

    mutating func recordTaskDoneCall(at ms: Double) {
        sequence += 1
        taskDoneCalls += 1
        lastTaskDoneSequence = sequence
        lastTaskDoneMs = ms
    }

    mutating func recordJoinReturn(at ms: Double, unfinished: Int) {
        sequence += 1
        joinReturn = JoinReturn(ms: ms, sequence: sequence, unfinished: unfinished)
    }
}

/// A producer-consumer run's parameters, read once.
struct QueueShape: Sendable {
    let items, producers, consumers, maxsize, produceMs, consumeMs, seed: Int
    let discipline: QueueDiscipline
    let join: Bool

    init(_ parameters: ParameterSet) {
        items = parameters.int("items")
        producers = parameters.int("producers")
        consumers = parameters.int("consumers")
        maxsize = parameters.int("maxsize")
        produceMs = parameters.int("produce_ms")
        consumeMs = parameters.int("consume_ms")
        seed = parameters.int("seed")
        discipline = QueueDiscipline(rawValue: parameters.string("queue")) ?? .fifo
        join = parameters.bool("join")
    }

    /// An item's priority (0-9, from the seed); every item has 0 unless the queue is a
    /// priority queue.
    func priority(of item: Int) -> Int {
        discipline == .priority ? SeededRandom.jitter(seed: seed, index: item, maxJitter: 9) : 0
    }

    /// The producers can fill the queue and every consumer's hands before the first
    /// consumer has finished its first item (with a margin for a real clock's noise): the
    /// next put must then wait.
    var backPressureIsCertain: Bool {
        guard maxsize > 0 else { return false }
        let mustFit = maxsize + consumers + 1
        guard items >= mustFit, consumeMs > 0 else { return false }
        let lastPutMs = Double(mustFit.dividedRoundingUp(by: producers) * produceMs)
        return lastPutMs * 1.2 + 5 <= Double(produceMs + consumeMs)
    }
}

/// How many times each item was consumed: one byte per item, however many there are.
struct ItemLedger: Sendable {
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
