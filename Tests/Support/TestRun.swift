import Patterns
import Synchronization

/// Runs a pattern the way the service does (`PatternRunner` over a `RunContext`), but on a
/// manual clock and a one-thread `TestExecutor`, and drives it deterministically: whenever
/// the run has settled (every task suspended, every thread parked or blocked on the clock)
/// the driver advances the clock to the next deadline, until the run ends.
///
/// Nothing here depends on wall time except a watchdog that turns a run that never
/// settles into a failure instead of a hang.
public enum TestRun {
    /// Validates `parameters` as the service would (defaults filled in), runs `pattern` and
    /// returns what it did. `cancelAt` cancels the run's task once the manual time reaches
    /// it and the run has settled.
    public static func execute(
        _ pattern: any Pattern, _ parameters: [String: JSONValue] = [:], limits: PatternLimits = .defaults,
        cancelAt: Duration? = nil, spanCap: Int? = nil, eventCap: Int = 50_000
    ) async throws -> TestRunResult {
        let raw = parameters.mapValues(RawParameter.json)
        let validated = try PatternCatalog(limits: limits).validate(raw, for: pattern).get()
        let clock = ManualClock()
        let sink = CollectingSink()
        let recorder = RunRecorder(
            clock: clock.runClock, sink: sink, spanCap: spanCap ?? limits.spanCap, eventCap: eventCap)
        let executor = try TestExecutor(activity: clock.activity)
        let context = RunContext(
            clock: clock.runClock, recorder: recorder, limits: limits, threads: .tracked(by: clock.activity),
            isolatesInlineBlocking: false, taskExecutor: executor)
        defer { executor.shutdown() }
        let finished = Locked<RunExecution?>(nil)
        // Unstructured on purpose: a driver must be able to walk away from a stuck run
        // instead of waiting for it forever.
        let runTask = Task(executorPreference: executor) {
            let execution = await PatternRunner.execute(pattern, parameters: validated, context: context)
            finished.withLock { $0 = execution }
        }
        let driver = Driver(clock: clock, executor: executor, cancelAt: cancelAt) { runTask.cancel() }
        let execution = try await driver.drive(until: { finished.value })
        return TestRunResult(execution: execution, events: sink.events, endedAt: clock.now.offset)
    }

    /// Advances the clock deadline by deadline whenever the run has settled. Every step
    /// that wakes several tasks at once (an advance, a cancellation) holds the executor's
    /// jobs until all of them are queued, so their order is the clock's, never a race.
    struct Driver {
        let clock: ManualClock
        let executor: TestExecutor
        let cancelAt: Duration?
        let cancel: () -> Void

        func drive<T>(until result: () -> T?) async throws -> T {
            var cancelPending = cancelAt != nil
            for _ in 0..<1_000_000 {
                try await clock.activity.waitUntilIdle()
                if let value = result() { return value }
                if cancelPending, let cancelAt, clock.now.offset >= cancelAt {
                    cancelPending = false
                    holdingJobs { cancel() }
                    continue
                }
                guard let next = nextStop(cancelPending: cancelPending) else {
                    holdingJobs { cancel() }
                    throw TestRunStuck(at: clock.now.offset)
                }
                executor.holdJobs()
                defer { executor.releaseJobs() }
                try await clock.advance(to: next) { try await clock.activity.waitUntilIdle() }
            }
            throw TestRunStuck(at: clock.now.offset)
        }

        /// The next deadline anyone waits for, or the cancellation time if that is sooner.
        private func nextStop(cancelPending: Bool) -> ManualClock.Instant? {
            guard cancelPending, let cancelAt else { return clock.nextDeadline }
            let cancelInstant = ManualClock.Instant(offset: cancelAt)
            return min(clock.nextDeadline ?? cancelInstant, cancelInstant)
        }

        private func holdingJobs(_ body: () -> Void) {
            executor.holdJobs()
            body()
            executor.releaseJobs()
        }
    }
}

/// The run settled with nobody waiting for the clock: no task or thread can ever wake.
public struct TestRunStuck: Error, CustomStringConvertible {
    public let at: Duration
    public var description: String { "run stuck at \(at.milliseconds) ms: settled, but nothing waits for the clock" }
}

extension ThreadLauncher {
    /// Pthreads that count as active in `activity` from launch until they end (or block
    /// on the manual clock). A launch returns only once its thread has parked or ended, so
    /// threads started one after another reach the clock in that order: a run's timeline
    /// does not depend on how the OS schedules them.
    public static func tracked(by activity: ActivityCounter) -> ThreadLauncher {
        ThreadLauncher { body in
            let before = activity.active
            activity.begin()
            do {
                try ThreadLauncher.pthreads.launch {
                    body()
                    activity.end()
                }
            } catch {
                activity.end()
                throw error
            }
            activity.blockUntilActive(atMost: before)
        }
    }
}
