import Patterns
import TestSupport
import Testing

@Suite struct ManualClockTests {
    @Test func sleeper_wakesWhenTimeReachesItsDeadline_notBefore() async throws {
        let clock = ManualClock()
        let woke = Locked<Duration?>(nil)
        let sleeper = Task {
            try await clock.sleep(until: .init(offset: .milliseconds(100)))
            woke.withLock { $0 = clock.now.offset }
        }
        try await clock.waitForSleepers(1)
        clock.advance(by: .milliseconds(99))
        #expect(clock.sleeperCount == 1)
        #expect(woke.value == nil)
        clock.advance(by: .milliseconds(1))
        try await sleeper.value
        #expect(woke.value == .milliseconds(100))
    }

    @Test func advance_wakesDueSleepersInDeadlineOrder() async throws {
        let clock = ManualClock()
        let order = Locked<[Int]>([])
        let activity = clock.activity
        let executor = try TestExecutor(activity: activity)
        defer { executor.shutdown() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, deadline) in [30, 10, 20].enumerated() {
                group.addTask(executorPreference: executor) {
                    try await clock.sleep(until: .init(offset: .milliseconds(deadline)))
                    order.withLock { $0.append(index) }
                }
            }
            try await clock.waitForSleepers(3)
            clock.advance(by: .milliseconds(50))
            try await group.waitForAll()
        }
        #expect(order.value == [1, 2, 0])
    }

    @Test func cancelledSleeper_leavesAtOnce() async throws {
        let clock = ManualClock()
        let sleeper = Task { try await clock.sleep(until: .init(offset: .seconds(60))) }
        try await clock.waitForSleepers(1)
        sleeper.cancel()
        await #expect(throws: CancellationError.self) { try await sleeper.value }
        #expect(clock.sleeperCount == 0)
        #expect(clock.nextDeadline == nil)
    }

    @Test func blockedThread_staysBlockedUntilTheClockPassesItsDeadline() async throws {
        let clock = ManualClock()
        let released = Locked<Duration?>(nil)
        try ThreadLauncher.pthreads.launch {
            clock.blockThread(until: .init(offset: .milliseconds(40)))
            released.withLock { $0 = clock.now.offset }
        }
        try await waitUntil { clock.blockedThreadCount == 1 }
        clock.advance(by: .milliseconds(39))
        #expect(clock.blockedThreadCount == 1)
        clock.advance(by: .milliseconds(1))
        try await waitUntil { released.value != nil }
        #expect(released.value == .milliseconds(40))
    }

    @Test func runClock_seesManualTime() async throws {
        let clock = ManualClock()
        let runClock = clock.runClock
        clock.advance(by: .milliseconds(250))
        #expect(runClock.elapsedMs() == 250)
    }
}
