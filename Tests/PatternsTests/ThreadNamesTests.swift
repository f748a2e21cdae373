import Patterns
import TestSupport
import Testing

@Suite("The engine's threads carry names (top -H, perf, /proc)")
struct ThreadNamesTests {
    @Test func aRunExecutorsThreads_areNamedLabRun_unlessToldOtherwise() async throws {
        let runs = try DedicatedThreadsExecutor(width: 1)
        defer { runs.shutdown() }
        let blocking = try DedicatedThreadsExecutor(width: 1, threadName: "lab-blocking")
        defer { blocking.shutdown() }
        let onRun = await Task(executorPreference: runs) { currentThreadName() }.value
        let onBlocking = await Task(executorPreference: blocking) { currentThreadName() }.value
        #expect(onRun == "lab-run")
        #expect(onBlocking == "lab-blocking")
    }

    @Test func aNameLongerThanTheKernelKeeps_isCutTo15Bytes() async throws {
        let executor = try DedicatedThreadsExecutor(width: 1, threadName: "lab-a-very-long-thread-name")
        defer { executor.shutdown() }
        let name = await Task(executorPreference: executor) { currentThreadName() }.value
        #expect(name == "lab-a-very-long")
    }

    @Test func theTimerThread_isNamedLabTimer() async throws {
        let fired = AsyncEvent()
        let name = Locked<String?>(nil)
        _ = TimerQueue.shared.schedule(at: .now + .milliseconds(1)) {
            name.withLock { $0 = currentThreadName() }
            _ = fired.set()
        }
        try await fired.wait()
        #expect(name.value == "lab-timer")
    }

    @Test func aThreadStartedForABlockingCall_isNamedLabOffload() async throws {
        let name = try await ThreadLauncher.pthreads.run { currentThreadName() }
        #expect(name == "lab-offload")
    }
}
