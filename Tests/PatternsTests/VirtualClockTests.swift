import Patterns
import TestSupport
import Testing

/// The clock by hand, with no executor jumping it.
@Suite struct VirtualClockTests {
    @Test func sleeper_wakesWhenTimeReachesItsDeadline_notBefore() async throws {
        let clock = VirtualClock()
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

    @Test func cancelledSleeper_leavesAtOnce() async throws {
        let clock = VirtualClock()
        let sleeper = Task { try await clock.sleep(until: .init(offset: .seconds(60))) }
        try await clock.waitForSleepers(1)
        sleeper.cancel()
        await #expect(throws: CancellationError.self) { try await sleeper.value }
        #expect(clock.sleeperCount == 0)
        #expect(clock.nextDeadline == nil)
    }

    @Test func blockedThread_staysBlockedUntilTheClockPassesItsDeadline() async throws {
        let clock = VirtualClock()
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

    @Test func scheduledAction_runsWhenDue_unlessCancelled() {
        let clock = VirtualClock()
        let ran = Locked<[String]>([])
        clock.schedule(at: .init(offset: .milliseconds(20))) { ran.withLock { $0.append("b") } }
        clock.schedule(at: .init(offset: .milliseconds(10))) { ran.withLock { $0.append("a") } }
        let dropped = clock.schedule(at: .init(offset: .milliseconds(15))) { ran.withLock { $0.append("x") } }
        clock.cancel(timer: dropped)
        #expect(clock.nextDeadline == .init(offset: .milliseconds(10)))
        clock.advance(by: .milliseconds(30))
        #expect(ran.value == ["a", "b"])
        #expect(clock.nextDeadline == nil)
    }

    @Test func runClock_seesVirtualTime() {
        let clock = VirtualClock()
        let runClock = clock.runClock
        clock.advance(by: .milliseconds(250))
        #expect(runClock.elapsedMs() == 250)
    }

    @Test func time_neverGoesBack() {
        let clock = VirtualClock()
        clock.advance(to: .init(offset: .milliseconds(50)))
        clock.advance(to: .init(offset: .milliseconds(20)))
        #expect(clock.now.offset == .milliseconds(50))
    }
}
