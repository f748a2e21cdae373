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
}
