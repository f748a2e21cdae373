import Patterns
import Runs
import Synchronization
import Testing

@Suite struct EventLogTests {
    private func event(_ name: String, _ n: Int = 0) -> RunEvent {
        RunEvent(name: name, data: ["n": .int(n)])
    }

    @Test func ids_increaseFromOne_inAppendOrder() {
        let log = EventLog()
        for n in 0..<5 { log.append(event("tick", n)) }
        let (events, finished, lastID) = log.events(after: 0)
        #expect(events.map(\.id) == [1, 2, 3, 4, 5])
        #expect(events.map(\.dataText) == (0..<5).map { "{\"n\":\($0)}" })
        #expect(!finished)
        #expect(lastID == 5)
    }

    @Test func replayAfterID_deliversExactlyTheLaterEvents() async {
        let log = EventLog()
        for n in 0..<10 { log.append(event("tick", n)) }
        log.finish(with: event("run.finished"))
        var subscription = log.subscribe(after: 7)
        var delivered: [Int] = []
        while case .events(let batch) = await subscription.next(batchLimit: 2) {
            delivered += batch.map(\.id)
        }
        #expect(delivered == [8, 9, 10, 11])
        #expect(await subscription.next() == .end)
    }

    /// Events appended together get consecutive ids, in order, and wake an observer (an event
    /// stream's fan-out) once: it sends them in one write.
    @Test func appendContentsOf_addsInOrder_andWakesObserversOnce() {
        let log = EventLog()
        let wakes = Mutex(0)
        _ = log.addObserver { wakes.withLock { $0 += 1 } }
        log.append(event("tick", 0))
        log.append(contentsOf: [event("tick", 1), event("progress", 1)])
        log.append(contentsOf: [event("tick", 2)])
        log.append(contentsOf: [])
        let (events, _, _) = log.events(after: 0)
        #expect(events.map(\.id) == [1, 2, 3, 4])
        #expect(events.map(\.name) == ["tick", "tick", "progress", "tick"])
        #expect(events.map(\.dataText) == ["{\"n\":0}", "{\"n\":1}", "{\"n\":1}", "{\"n\":2}"])
        #expect(wakes.withLock { $0 } == 3)
        log.finish(with: event("run.finished"))
        log.append(contentsOf: [event("late"), event("late")])
        #expect(log.count == 5)
    }

    @Test func nothingIsAppendedAfterFinish() {
        let log = EventLog()
        log.finish(with: event("run.finished"))
        log.append(event("late"))
        #expect(log.count == 1)
        #expect(log.isFinished)
    }

    @Test func everySubscriber_receivesEveryEvent_whileTheLogGrows() async {
        let log = EventLog()
        let subscriberCount = 50
        let eventCount = 200
        let received = await withTaskGroup(of: [Int].self) { group in
            for _ in 0..<subscriberCount {
                var subscription = log.subscribe()
                group.addTask {
                    var ids: [Int] = []
                    while case .events(let batch) = await subscription.next() { ids += batch.map(\.id) }
                    return ids
                }
            }
            group.addTask {
                for n in 0..<eventCount { log.append(self.event("tick", n)) }
                log.finish(with: self.event("run.finished"))
                return []
            }
            var all: [[Int]] = []
            for await ids in group where !ids.isEmpty { all.append(ids) }
            return all
        }
        #expect(received.count == subscriberCount)
        for ids in received { #expect(ids == Array(1...(eventCount + 1))) }
    }

    @Test func subscriberTooFarBehindALiveRun_isToldItOverflowed() async {
        let log = EventLog(maxLag: 3)
        var slow = log.subscribe()
        for n in 0..<10 { log.append(event("tick", n)) }
        #expect(await slow.next() == .overflowed)
        // A subscriber that keeps up is unaffected.
        var fresh = log.subscribe(after: 9)
        guard case .events(let batch) = await fresh.next() else {
            Issue.record("expected events")
            return
        }
        #expect(batch.map(\.id) == [10])
    }

    @Test func replayingTheBacklogOfALiveRun_neverCountsAsFallingBehind() async {
        let log = EventLog(maxLag: 3)
        for n in 0..<10 { log.append(event("tick", n)) }
        var late = log.subscribe()
        guard case .events(let batch) = await late.next(batchLimit: 2) else {
            Issue.record("expected events")
            return
        }
        #expect(batch.map(\.id) == [1, 2])
        for n in 0..<3 { log.append(event("tick", n)) }
        guard case .events = await late.next(batchLimit: 2) else {
            Issue.record("three new events are within the lag bound")
            return
        }
        log.append(event("tick"))
        #expect(await late.next() == .overflowed)
    }

    @Test func cancellingAWaitingSubscriber_endsItsWait() async {
        let log = EventLog()
        let waiter = Task {
            var subscription = log.subscribe()
            return await subscription.next()
        }
        waiter.cancel()
        #expect(await waiter.value == .cancelled)
    }
}
