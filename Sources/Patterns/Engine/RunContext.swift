import LabJSON

/// Everything a pattern's run may touch: the clock it sleeps through, the recorder its
/// events and spans go to, the limits it runs under, and where it starts the threads that
/// blocking work is offloaded to. Cancellation is the current task's: cancelling the run's
/// task cancels every child task a pattern starts.
public struct RunContext: Sendable {
    public let clock: RunClock
    public let recorder: RunRecorder
    public let limits: PatternLimits
    public let threads: ThreadLauncher
    /// Whether work that blocks its own thread on purpose (`blocking-offload` inline) gets
    /// a pool of its own (production: it must never block the server's threads) or runs on
    /// the current executor (tests, whose executor is already private and deterministic).
    public let isolatesInlineBlocking: Bool
    /// The executor the run's tasks prefer (nil: the shared pool; tests: their one-thread
    /// executor). Work shielded from cancellation (`shielded`) is started on it too.
    public let taskExecutor: (any TaskExecutor)?

    public init(
        clock: RunClock, recorder: RunRecorder, limits: PatternLimits = .defaults,
        threads: ThreadLauncher = .pthreads, isolatesInlineBlocking: Bool = true, taskExecutor: (any TaskExecutor)? = nil
    ) {
        self.clock = clock
        self.recorder = recorder
        self.limits = limits
        self.threads = threads
        self.isolatesInlineBlocking = isolatesInlineBlocking
        self.taskExecutor = taskExecutor
    }

    /// The same context, its tasks preferring `executor` (a virtual run's own thread, so
    /// that shielded work runs where the run's clock waits for it).
    public func preferring(_ executor: any TaskExecutor) -> RunContext {
        RunContext(
            clock: clock, recorder: recorder, limits: limits, threads: threads,
            isolatesInlineBlocking: isolatesInlineBlocking, taskExecutor: executor)
    }

    /// Runs `operation` where the caller's cancellation does not reach it, and waits for it
    /// (asyncio's `shield`, awaited). Swift's cancellation is sticky: in a cancelled task every
    /// later sleep throws at once, while asyncio delivers CancelledError once and lets cleanup
    /// await. Cleanup that must take its time (an `__aexit__`) runs here: in a task of its own
    /// that nobody cancels, awaited, so it never outlives its caller.
    public func shielded<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        // Unstructured on purpose: a child task would inherit the caller's cancellation.
        let task = Task(executorPreference: taskExecutor) { try await operation() }
        return try await task.value
    }

    /// Sleeps `milliseconds` on the run's clock; throws `CancellationError` when cancelled.
    nonisolated(nonsending) public func sleep(ms milliseconds: Int) async throws {
        try await clock.sleep(for: .milliseconds(milliseconds))
    }

    public func elapsedMs() -> Double { clock.elapsedMs() }

    /// Emits a per-task event; `data` is only built when the event is kept (see the cap).
    public func emit(_ name: String, _ data: @autoclosure () -> KeyValuePairs<String, JSONValue> = [:]) {
        recorder.event(name, data())
    }

    /// Emits a per-task event whose data is integers under literal keys in sorted order
    /// (`RunRecorder.event(_:integers:)`): for events written once per task.
    public func emit(_ name: String, integers: KeyValuePairs<StaticString, Int>) {
        recorder.event(name, integers: integers)
    }

    /// Emits a per-task event and advances progress by `units`, the two appended as one
    /// (`RunRecorder.event(_:_:advancingProgressBy:)`).
    public func emit(
        _ name: String, _ data: @autoclosure () -> KeyValuePairs<String, JSONValue>, advancingProgressBy units: Int
    ) {
        recorder.event(name, data(), advancingProgressBy: units)
    }

    /// Runs `body` as task `id` of the timeline: its span starts now and ends with the
    /// outcome of what `body` returned or threw (cancellation and timeouts told apart). It
    /// runs on its caller's executor: `body` of a task isolated to an `EventLoop` stays on it.
    nonisolated(nonsending) public func task<T: Sendable>(
        _ id: Int, label: String? = nil, countsAsProgress: Bool = true,
        _ body: nonisolated(nonsending) () async throws -> T
    ) async throws -> T {
        let handle = recorder.startTask(id, label: label)
        do {
            let value = try await body()
            recorder.finishTask(handle, outcome: .ok, countsAsProgress: countsAsProgress)
            return value
        } catch {
            recorder.finishTask(
                handle, outcome: SpanOutcome(error: error), detail: ["error": .string(String(describing: error))],
                countsAsProgress: countsAsProgress)
            throw error
        }
    }
}
