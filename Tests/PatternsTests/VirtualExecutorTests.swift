import Patterns
import TestSupport
import Testing

/// The executor that drives a virtual run: FIFO jobs, jumps when every task waits, halts
/// when nothing can ever wake.
@Suite struct VirtualExecutorTests {
    /// Runs `body` on a fresh executor and returns its value, with the clock and the halts.
    private func onExecutor<T: Sendable>(
        timeLimit: Duration? = nil, _ body: @escaping @Sendable (VirtualClock) async throws -> T
    ) async throws -> (value: T, clock: VirtualClock, halts: [VirtualExecutor.Halt]) {
        let clock = VirtualClock()
        let halts = Locked<[VirtualExecutor.Halt]>([])
        let executor = try VirtualExecutor(clock: clock, timeLimit: timeLimit) { halt in halts.withLock { $0.append(halt) } }
        // Shut down from the body's own last job, as `VirtualRun` does: once it has
        // returned, an idle executor would rightly call the empty clock a stall.
        let value = try await Task(executorPreference: executor) {
            defer { executor.shutdown() }
            return try await body(clock)
        }.value
        return (value, clock, halts.value)
    }

    @Test func aVirtualRunsThread_isNamedLabVirtual() async throws {
        let (name, _, _) = try await onExecutor { _ in currentThreadName() }
        #expect(name == "lab-virtual")
    }

    @Test func equalDeadlines_wakeInTheOrderTheySlept_laterOnesAfter() async throws {
        let (order, clock, halts) = try await onExecutor { clock in
            let order = Locked<[String]>([])
            await withThrowingTaskGroup(of: Void.self) { group in
                for (name, deadline) in [("c", 30), ("a1", 10), ("b", 20), ("a2", 10), ("a3", 10)] {
                    group.addTask {
                        try await clock.sleep(until: .init(offset: .milliseconds(deadline)))
                        order.withLock { $0.append("\(name)@\(clock.now.offset.milliseconds)") }
                    }
                }
            }
            return order.value
        }
        #expect(order == ["a1@10.0", "a2@10.0", "a3@10.0", "b@20.0", "c@30.0"])
        #expect(clock.now.offset == .milliseconds(30))
        #expect(halts.isEmpty)
    }

    /// Trio's autojump with threshold 0: an hour of sleeps costs no wall time, and the
    /// clock stops exactly where the last sleeper woke.
    @Test func anHourOfSleeps_jumpsStraightThrough() async throws {
        let (ticks, clock, _) = try await onExecutor { clock in
            var ticks = 0
            for _ in 0..<3_600 {
                try await clock.sleep(for: .seconds(1))
                ticks += 1
            }
            return ticks
        }
        #expect(ticks == 3_600)
        #expect(clock.now.offset == .seconds(3_600))
    }

    /// Jobs run strictly in the order they were enqueued: children started in a loop run
    /// in that order, and each one's wake-up joins the back of the queue.
    @Test func jobs_runFirstInFirstOut() async throws {
        let (order, _, _) = try await onExecutor { clock in
            let order = Locked<[String]>([])
            await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<3 {
                    group.addTask {
                        order.withLock { $0.append("start \(index)") }
                        try await clock.sleep(until: .init(offset: .milliseconds(5)))
                        order.withLock { $0.append("woke \(index)") }
                    }
                }
            }
            return order.value
        }
        #expect(order == ["start 0", "start 1", "start 2", "woke 0", "woke 1", "woke 2"])
    }

    /// Nothing queued and nothing scheduled: a deadlock is reported, not waited out; the
    /// cancellation the handler would send then ends the wait.
    @Test func deadlock_isReportedAsAStall() async throws {
        let clock = VirtualClock()
        let stalled = AsyncEvent()
        let halts = Locked<[VirtualExecutor.Halt]>([])
        let executor = try VirtualExecutor(clock: clock) { halt in
            halts.withLock { $0.append(halt) }
            _ = stalled.set()
        }
        defer { executor.shutdown() }
        let waiter = Task(executorPreference: executor) {
            try await clock.sleep(until: .init(offset: .milliseconds(7)))
            try await AsyncEvent().wait()
        }
        try await stalled.wait()
        #expect(halts.value == [.stalled(at: .milliseconds(7))])
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
    }

    /// The limit stops the jumps before the deadline past it; it is said once, then lifted.
    @Test func deadlinePastTheTimeLimit_halts_thenTheLimitIsLifted() async throws {
        let (woke, clock, halts) = try await onExecutor(timeLimit: .seconds(10)) { clock in
            try await clock.sleep(until: .init(offset: .seconds(5)))
            try await clock.sleep(until: .init(offset: .seconds(60)))
            return clock.now.offset
        }
        #expect(halts == [.timeLimit(next: .seconds(60), limit: .seconds(10))])
        #expect(woke == .seconds(60))
        #expect(clock.now.offset == .seconds(60))
    }

    /// A thread blocking in virtual time: no jump while it runs, and the executor's own
    /// thread, when it blocks, moves time itself while the queued work waits behind it.
    @Test func blockingTheExecutorThread_drivesTimeWhileQueuedWorkWaits() async throws {
        let (order, clock, _) = try await onExecutor { clock in
            let order = Locked<[String]>([])
            await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await clock.sleep(until: .init(offset: .milliseconds(10)))
                    order.withLock { $0.append("sleeper@\(clock.now.offset.milliseconds)") }
                }
                group.addTask {
                    clock.blockThread(until: .init(offset: .milliseconds(50)))
                    order.withLock { $0.append("blocker@\(clock.now.offset.milliseconds)") }
                }
            }
            return order.value
        }
        #expect(order == ["blocker@50.0", "sleeper@50.0"])
        #expect(clock.now.offset == .milliseconds(50))
    }

    @Test func trackedThreads_areWaitedFor_beforeTimeMoves() async throws {
        let (order, _, _) = try await onExecutor { clock in
            let order = Locked<[String]>([])
            let threads = ThreadLauncher.tracked(by: clock.activity)
            await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<2 {
                    group.addTask {
                        try await threads.run {
                            clock.blockThread(until: .init(offset: .milliseconds(20 * (2 - index))))
                            order.withLock { $0.append("thread \(index)@\(clock.now.offset.milliseconds)") }
                        }
                    }
                }
            }
            return order.value
        }
        #expect(order == ["thread 1@20.0", "thread 0@40.0"])
    }
}
