/// A condition run's parameters, read once.
struct ConditionSetup: Sendable {
    let consumers, batch, produceMs: Int
    let notifiesAll: Bool

    init(_ parameters: ParameterSet) {
        consumers = parameters.int("consumers")
        batch = parameters.int("batch")
        produceMs = parameters.int("produce_ms")
        notifiesAll = parameters.string("notify") == "all"
    }
}

/// What a condition run observed, counted under one lock.
struct ConditionTally: Sendable {
    /// One notify: how many waited then, and how many wake-ups followed it (until the next).
    struct Notify: Sendable {
        let waiting: Int
        var wakes = 0
    }

    var available = 0
    var produced = 0
    var consumed = 0
    var waiting = 0
    var proceededWithPredicateFalse = 0
    var rewaits = 0
    var notifies: [Notify] = []
    /// Consumers stopped while still waiting, and how many of them had an item available.
    var stranded = 0
    var strandedBesideItem = 0
    var served = 0
    var stopping = false
}

extension ConditionPattern {
    func consume(
        as consumer: Int, _ setup: ConditionSetup, _ condition: AsyncCondition, _ tally: Locked<ConditionTally>,
        _ allServed: AsyncEvent, _ context: RunContext
    ) async throws {
        do {
            try await context.task(consumer, label: "consumer-\(consumer)") {
                try await condition.acquire()
                defer { condition.release() }
                try await waitForItem(as: consumer, setup, condition, tally, context)
                let (available, served) = tally.withLock { tally -> (Int, Int) in
                    if tally.available > 0 {
                        tally.available -= 1
                        tally.consumed += 1
                    } else {
                        tally.proceededWithPredicateFalse += 1
                    }
                    tally.served += 1
                    return (tally.available, tally.served)
                }
                context.emit("condition.proceeded", ["task": .int(consumer), "available": .int(available)])
                if served == setup.consumers { allServed.set() }
            }
        } catch is CancellationError {
            let stopping = tally.withLock { tally -> Bool in
                guard tally.stopping else { return false }
                tally.stranded += 1
                if tally.available > 0 { tally.strandedBesideItem += 1 }
                return true
            }
            if !stopping { throw CancellationError() }
        }
    }

    /// `await cond.wait_for(lambda: available > 0)`, with every wait and wake-up told.
    private func waitForItem(
        as consumer: Int, _ setup: ConditionSetup, _ condition: AsyncCondition, _ tally: Locked<ConditionTally>,
        _ context: RunContext
    ) async throws {
        var waitedBefore = false
        while tally.withLock({ $0.available }) == 0 {
            if fault == .checksThenWaits {
                // The bug: the predicate was checked, the lock is dropped, and the wait comes
                // later, after a notify it then never hears.
                condition.release()
                try await context.sleep(ms: setup.produceMs * 3 / 2)
                try await condition.acquire()
            }
            let waiting = tally.withLock { tally -> Int in
                tally.waiting += 1
                if waitedBefore { tally.rewaits += 1 }
                return tally.waiting
            }
            context.emit("condition.waiting", ["task": .int(consumer), "waiting": .int(waiting)])
            try await withWaitingCounted(tally) { try await condition.wait() }
            waitedBefore = true
            let (found, waitingLeft) = tally.withLock { tally -> (Bool, Int) in
                if !tally.notifies.isEmpty { tally.notifies[tally.notifies.count - 1].wakes += 1 }
                return (tally.available > 0, tally.waiting)
            }
            context.emit("condition.woken", ["task": .int(consumer), "predicate": .bool(found), "waiting": .int(waitingLeft)])
            if fault == .waitsWithoutRecheck { return }
        }
    }

    /// Runs a wait, counting the consumer out of `waiting` however it ends.
    private func withWaitingCounted(_ tally: Locked<ConditionTally>, _ wait: () async throws -> Void) async throws {
        defer { tally.withLock { $0.waiting -= 1 } }
        try await wait()
    }

    /// The producer: a batch every interval, each followed by notify(batch) or notify_all();
    /// then one more interval for the consumers to finish. Returns whether that grace ran out
    /// with consumers still waiting.
    func produce(
        _ setup: ConditionSetup, _ condition: AsyncCondition, _ tally: Locked<ConditionTally>, _ allServed: AsyncEvent,
        _ context: RunContext
    ) async throws -> Bool {
        try await context.task(setup.consumers, label: "producer", countsAsProgress: false) {
            var made = 0
            while made < setup.consumers {
                try await context.sleep(ms: setup.produceMs)
                let count = min(setup.batch, setup.consumers - made)
                made += count
                try await condition.acquire()
                let available = tally.withLock { tally -> Int in
                    tally.available += count
                    tally.produced += count
                    tally.notifies.append(.init(waiting: condition.waitingCount))
                    return tally.available
                }
                let woken = notify(count, setup, condition)
                condition.release()
                context.emit(
                    "condition.notified",
                    ["n": setup.notifiesAll ? "all" : .int(count), "woken": .int(woken), "available": .int(available)])
            }
            do {
                try await context.clock.withTimeout(.milliseconds(setup.produceMs)) { try await allServed.wait() }
                return false
            } catch is PatternTimeoutError {
                return true
            }
        }
    }

    private func notify(_ count: Int, _ setup: ConditionSetup, _ condition: AsyncCondition) -> Int {
        switch (setup.notifiesAll, fault) {
        case (true, .notifyAllWakesOne?): condition.notify(1)
        case (true, _), (false, .notifyWakesAll?): condition.notifyAll()
        case (false, _): condition.notify(count)
        }
    }

    func outcome(_ setup: ConditionSetup, _ tally: ConditionTally) -> PatternOutcome {
        var checks: [Check] = [
            .equal("no_consumer_proceeds_with_predicate_false", observed: tally.proceededWithPredicateFalse, expected: 0)
        ]
        let mostWakes = tally.notifies.map(\.wakes).max() ?? 0
        if setup.notifiesAll {
            let short = tally.notifies.filter { $0.wakes != $0.waiting }.count
            checks.append(
                Check(
                    name: "notify_all_wakes_every_waiter", expected: "every notify_all woke every waiter (\(tally.notifies.count) notifies)",
                    observed: .string("\(tally.notifies.count - short) of \(tally.notifies.count) did"), passed: short == 0))
        } else {
            checks.append(.atMost("notify_n_wakes_at_most_n", observed: mostWakes, limit: setup.batch))
        }
        checks.append(
            Check(
                name: "no_wakeup_lost",
                expected: "\(tally.produced) items taken, 0 consumers left waiting beside an available item",
                observed: .string("\(tally.consumed) taken, \(tally.strandedBesideItem) left waiting beside an item"),
                passed: tally.consumed == tally.produced && tally.strandedBesideItem == 0))
        return PatternOutcome(
            result: [
                "consumers": .int(setup.consumers), "produced": .int(tally.produced), "consumed": .int(tally.consumed),
                "notifies": .int(tally.notifies.count), "most_woken_by_one_notify": .int(mostWakes),
                "rewaits": .int(tally.rewaits), "proceeded_with_predicate_false": .int(tally.proceededWithPredicateFalse),
                "stranded": .int(tally.stranded), "left_available": .int(tally.available),
            ],
            checks: checks)
    }
}
