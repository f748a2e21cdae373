/// condition: consumers wait on a condition for items; a producer adds them and notifies.
///
/// - Parameters: `consumers` (1...maxCount), each wanting one item; a producer adds `batch`
///   items (1...maxCount) every `produce_ms` (1...maxDelayMs) until there is one per
///   consumer, and after each batch calls `notify(batch)` (`notify`: `n`) or `notify_all()`
///   (`all`).
/// - Events: `task.started` per consumer and the producer; `condition.waiting` when a
///   consumer starts to wait (`waiting`); per batch `condition.notified` (n, `woken`,
///   `available`); per wake-up `condition.woken` (the predicate as the consumer found it);
///   `condition.proceeded` when a consumer takes its item (`available` left); `task.finished`.
/// - Cancellation: waiting consumers leave the condition holding its lock again, as
///   asyncio's do, and release it; the run ends `cancelled`.
/// - Checks: no consumer proceeded with the predicate false; each notify(n) woke at most n
///   (notify_all: every waiter); no wake-up was lost: every item was taken, and no consumer
///   was left waiting while an item was available (a producer done, consumers still waiting
///   one interval later are stopped and counted).
public struct ConditionPattern: Pattern {
    /// Ways to break one guarantee each, so tests can show that its check fails.
    enum Fault: Sendable {
        /// A consumer waits once and proceeds without checking the predicate again.
        case waitsWithoutRecheck
        /// notify(n) wakes every waiter.
        case notifyWakesAll
        /// notify_all() wakes one waiter.
        case notifyAllWakesOne
        /// A consumer checks the predicate, drops the lock, and only later starts waiting:
        /// the classic lost wake-up.
        case checksThenWaits
    }

    let fault: Fault?

    public init() { fault = nil }
    init(fault: Fault?) { self.fault = fault }

    public let name = "condition"
    public let title = "Condition: wait for a predicate, wake on notify"
    public let summary = "Consumers wait on a condition until an item is available; a producer adds items in batches and notifies. A woken consumer checks the predicate again before it proceeds, notify(n) wakes at most n, and no wake-up is lost."
    public let asyncioEquivalent = "async with cond: await cond.wait_for(predicate) / cond.notify(n), cond.notify_all()"
    public let swiftEquivalent = "AsyncCondition: an AsyncLock plus a FIFO of waiters; wait() registers, unlocks, suspends, relocks"
    public let swiftNote = "Swift has no async condition variable (NSCondition blocks a thread). Here the waiter registers before it releases the lock, so a notifier, which must hold the lock, cannot slip in between. A cancelled wait re-acquires the lock before it throws, as asyncio's does: Swift's cancellation is sticky, so that re-acquisition must ignore it."
    public let invariants = [
        "no consumer proceeds with the predicate false",
        "notify(n) wakes at most n waiters (notify_all: all of them)",
        "no wake-up is lost: every item is taken, nobody is left waiting beside an available item",
    ]
    public let eventNames = ["condition.waiting", "condition.notified", "condition.woken", "condition.proceeded"]
    public let counters = [
        CounterSpec("waiting", "consumers waiting on the condition"),
        CounterSpec("available", "items available"),
    ]

    public func parameters(limits: PatternLimits) -> [ParameterSpec] {
        [
            .integer("consumers", default: 4, min: 1, max: limits.maxCount, "How many consumers wait, each for one item."),
            .integer("batch", default: 2, min: 1, max: limits.maxCount, "Items the producer adds before each notify."),
            .integer("produce_ms", default: 50, min: 1, max: limits.maxDelayMs, "Time between batches."),
            .choice(
                "notify", default: "n", choices: ["n", "all"],
                "n: notify(batch) wakes at most as many as were added; all: notify_all() wakes every waiter."),
        ]
    }

    public func plannedDuration(_ parameters: ParameterSet) -> Duration {
        let batches = parameters.int("consumers").dividedRoundingUp(by: parameters.int("batch"))
        return .milliseconds((batches + 1) * parameters.int("produce_ms"))
    }

    public func run(_ parameters: ParameterSet, context: RunContext) async throws -> PatternOutcome {
        let setup = ConditionSetup(parameters)
        context.recorder.setTotal(setup.consumers)
        let condition = AsyncCondition()
        let tally = Locked(ConditionTally())
        let allServed = AsyncEvent()
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for consumer in 0..<setup.consumers {
                group.addTask {
                    try await consume(as: consumer, setup, condition, tally, allServed, context)
                    return false
                }
            }
            group.addTask { try await produce(setup, condition, tally, allServed, context) }
            for try await graceExpired in group where graceExpired {
                // The producer is done and consumers still wait: stop them, and count them.
                tally.withLock { $0.stopping = true }
                group.cancelAll()
            }
        }
        return outcome(setup, tally.value)
    }
}
