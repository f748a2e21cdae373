import Patterns
import Runs
import Testing

@Suite struct OneShotSignalTests {
    @Test func fire_resumesEveryWaiter_andLaterWaitsReturnAtOnce() async {
        let signal = OneShotSignal()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<20 { group.addTask { await signal.wait() } }
            #expect(signal.fire())
        }
        #expect(!signal.fire())
        await signal.wait()
        #expect(signal.isFired)
    }

    @Test func cancellingAWaiter_endsItsWait_withoutFiring() async {
        let signal = OneShotSignal()
        let waiter = Task { await signal.wait() }
        waiter.cancel()
        await waiter.value
        #expect(!signal.isFired)
    }

    @Test func aTimedWait_reportsWhetherItFired() async {
        let signal = OneShotSignal()
        #expect(await signal.wait(timeout: .milliseconds(1)) == false)
        signal.fire()
        #expect(await signal.wait(timeout: .seconds(60)) == true)
    }

    /// The timeout is the timer queue's to decide: here, a queue with no thread, so the wait
    /// ends exactly when the test lets time pass, and not before.
    @Test func aTimedWait_endsWhenItsDeadlinePasses_andNotBefore() async {
        let signal = OneShotSignal()
        let timers = TimerQueue()
        let waiter = Task { await signal.wait(timeout: .seconds(3600), timers: timers) }
        for _ in 0..<100_000 where timers.count != 1 { await Task.yield() }
        #expect(timers.count == 1)
        timers.fireDue(now: .now)  // an hour early: nothing happens
        #expect(timers.count == 1)
        timers.fireDue(now: .now.advanced(by: .seconds(7200)))
        #expect(await waiter.value == false)
        #expect(timers.count == 0)
        #expect(!signal.isFired)
    }

    @Test func aTimedWait_thatSeesTheSignal_cancelsItsTimer() async {
        let signal = OneShotSignal()
        let timers = TimerQueue()
        let waiter = Task { await signal.wait(timeout: .seconds(3600), timers: timers) }
        for _ in 0..<100_000 where timers.count != 1 { await Task.yield() }
        signal.fire()
        #expect(await waiter.value == true)
        #expect(timers.count == 0)
    }
}
