import Dispatch
import LabJSON
import Patterns

/// Runs a pattern the way the service runs a `clock: virtual` run (`VirtualRun`: one
/// thread, FIFO jobs, the clock jumping to the next deadline whenever every task waits),
/// with a manual thread launcher whose threads block in virtual time, and collects what it
/// did. The tests' timelines are the production virtual clock's, not a lookalike's.
///
/// Nothing here depends on wall time except a watchdog that turns a run that never settles
/// (a busy loop) into a failure instead of a hang.
public enum TestRun {
    /// Validates `parameters` as the service would (defaults filled in), runs `pattern` and
    /// returns what it did. `cancelAt` cancels the run's task once the virtual time reaches
    /// it and everything due then has run. A run that deadlocks throws `TestRunStuck`.
    public static func execute(
        _ pattern: any Pattern, _ parameters: [String: JSONValue] = [:], limits: PatternLimits = .defaults,
        cancelAt: Duration? = nil, spanCap: Int? = nil, eventCap: Int = 50_000,
        watchdog: Duration = .seconds(30)
    ) async throws -> TestRunResult {
        let raw = parameters.mapValues(RawParameter.json)
        let validated = try PatternCatalog(limits: limits).validate(raw, for: pattern).get()
        let clock = VirtualClock()
        let sink = CollectingSink()
        let recorder = RunRecorder(
            clock: clock.runClock, sink: sink, spanCap: spanCap ?? limits.spanCap, eventCap: eventCap)
        let context = RunContext(
            clock: clock.runClock, recorder: recorder, limits: limits, threads: .tracked(by: clock.activity),
            isolatesInlineBlocking: false)
        let outcome = try await withWatchdog(watchdog) {
            await VirtualRun.execute(pattern, parameters: validated, context: context, clock: clock, cancelAt: cancelAt)
        }
        if case .halted(.stalled(let at))? = outcome.stop { throw TestRunStuck(at: at) }
        return TestRunResult(execution: outcome.execution, events: sink.events, appends: sink.appends, endedAt: outcome.endedAt)
    }

    /// `body`, or `TestRunTimeout` after `limit` of wall time: the run is then cancelled
    /// and left behind (a busy loop would never end), never waited for.
    private static func withWatchdog<T: Sendable>(
        _ limit: Duration, _ body: @escaping @Sendable () async -> T
    ) async throws -> T {
        let first = Locked<UnsafeContinuation<T, any Error>?>(nil)
        let finish: @Sendable (Result<T, any Error>) -> Bool = { result in
            guard let continuation = first.withLock({ $0.take() }) else { return false }
            continuation.resume(with: result)
            return true
        }
        return try await withUnsafeThrowingContinuation { continuation in
            first.withLock { $0 = continuation }
            // Unstructured on purpose: the driver must be able to walk away from a stuck run.
            let run = Task { _ = finish(.success(await body())) }
            let (seconds, attoseconds) = limit.components
            let nanoseconds = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) {
                if finish(.failure(TestRunTimeout(limit: limit))) { run.cancel() }
            }
        }
    }
}

/// The run deadlocked: every task waited and nothing was scheduled on the clock.
public struct TestRunStuck: Error, CustomStringConvertible {
    public let at: Duration
    public var description: String { "run stuck at \(at.milliseconds) ms: every task waits, and nothing is scheduled on the clock" }
}

/// The run kept running (a busy loop, a thread that never parks) for longer than any test
/// should take.
public struct TestRunTimeout: Error, CustomStringConvertible {
    public let limit: Duration
    public var description: String { "the run did not end within \(limit) of wall time" }
}
