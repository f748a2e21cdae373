import Dispatch
import Patterns
import Synchronization
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The invariant of `GlobalJobRouting`: a virtual run's jobs never run off its thread; the
/// server's jobs are never routed onto it; a job of a run that has ended is handed to the
/// global executor, neither lost nor run by a thread that is gone.
@Suite struct GlobalJobRoutingTests {
    /// Runs `body` on a fresh executor (shut down from the body's last job, as `VirtualRun`
    /// does) and returns its value.
    private func onExecutor<T: Sendable>(
        _ body: @escaping @Sendable (VirtualClock, VirtualExecutor) async throws -> T
    ) async throws -> T {
        let clock = VirtualClock()
        let executor = try VirtualExecutor(clock: clock)
        return try await Task(executorPreference: executor) {
            defer { executor.shutdown() }
            return try await body(clock, executor)
        }.value
    }

    /// A `Task {}` inherits no executor preference: without the routing its first job would
    /// run on the global pool, and its sleep would leave the run waiting on nothing (a stall).
    @Test func anUnstructuredTaskOfARun_runsEveryJobOnTheRunsThread() async throws {
        let (onRunThread, woke) = try await onExecutor { clock, executor in
            let runThread = pthread_self()
            let onRunThread = Locked<[Bool]>([])
            let note: @Sendable () -> Void = {
                let here = pthread_equal(pthread_self(), runThread) != 0 && VirtualExecutor.onCurrentThread === executor
                onRunThread.withLock { $0.append(here) }
            }
            let task = Task {
                note()
                try await clock.sleep(until: .init(offset: .milliseconds(40)))
                note()
                await Task.yield()
                note()
                return clock.now.offset
            }
            let woke = try await task.value
            return (onRunThread.value, woke)
        }
        #expect(onRunThread == [true, true, true])
        #expect(woke == .milliseconds(40))
    }

    /// What the run hands to the world goes to the world: a subscriber the sink resumes (as
    /// the event log resumes a stream's task) runs on the global pool, not on the run's thread.
    @Test func aServerTaskTheRunResumesThroughItsSink_staysOffTheRunsThread() async throws {
        let sink = ResumingSink()
        let registered = AsyncEvent()
        let subscriber = Task { () -> pthread_t in
            await withCheckedContinuation { continuation in
                sink.waiter.withLock { $0 = continuation }
                _ = registered.set()
            }
            return pthread_self()
        }
        try await registered.wait()
        let (runThread, subscriberThread) = try await onExecutor { clock, _ in
            let recorder = RunRecorder(clock: clock.runClock, sink: sink)
            recorder.milestone("run.started")
            // Awaited by the run itself: routed here, it would run before the run ends.
            return (pthread_self(), await subscriber.value)
        }
        #expect(sink.resumed.value == 1)
        #expect(pthread_equal(runThread, subscriberThread) == 0)
    }

    /// A run's task whose continuation is resumed after the run's thread ended: its job
    /// goes to the global executor, and the task finishes there. (Lost in the dead queue, it
    /// would never finish: a watchdog turns that into a failure, not a hang.)
    @Test func aJobForAnExecutorWhoseThreadEnded_runsOnTheGlobalExecutor() async throws {
        let ended = DispatchSemaphore(value: 0)
        let threads = ThreadLauncher { body in
            try ThreadLauncher.pthreads.launch {
                body()
                ended.signal()
            }
        }
        let executor = try VirtualExecutor(clock: VirtualClock(), threads: threads)
        let parked = Locked<UnsafeContinuation<Void, Never>?>(nil)
        let registered = AsyncEvent()
        let task = Task(executorPreference: executor) { () -> Bool in
            await withUnsafeContinuation { continuation in
                parked.withLock { $0 = continuation }
                _ = registered.set()
            }
            return VirtualExecutor.onCurrentThread == nil
        }
        try await registered.wait()
        executor.shutdown()
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                ended.wait()
                continuation.resume()
            }
        }
        parked.withLock { $0.take() }?.resume()
        #expect(await Self.value(of: task, unlessLostFor: .seconds(20)) == true)
    }

    /// The task's value, or nil when it has not finished after `limit` of wall time.
    private static func value<T: Sendable>(of task: Task<T, Never>, unlessLostFor limit: Duration) async -> T? {
        let outcome = Locked<T?>(nil)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let waiter = Locked<CheckedContinuation<Void, Never>?>(continuation)
            Task {
                let value = await task.value
                outcome.withLock { $0 = value }
                waiter.withLock { $0.take() }?.resume()
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(Int(limit.components.seconds))) {
                waiter.withLock { $0.take() }?.resume()
            }
        }
        return outcome.value
    }
}

/// A sink that resumes the one task waiting on it, as the event log resumes its subscribers.
private final class ResumingSink: RunEventSink, Sendable {
    let waiter = Locked<CheckedContinuation<Void, Never>?>(nil)
    let resumed = Locked(0)

    func append(_ event: RunEvent) {
        guard let continuation = waiter.withLock({ $0.take() }) else { return }
        resumed.withLock { $0 += 1 }
        continuation.resume()
    }
}
