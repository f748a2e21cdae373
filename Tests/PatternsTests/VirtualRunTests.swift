import LabJSON
import Patterns
import TestSupport
import Testing

/// How a virtual run ends when it cannot end by itself.
@Suite struct VirtualRunTests {
    private func run(
        _ parameters: [String: JSONValue], timeLimit: Duration? = nil, realTimeLimit: Duration? = nil
    ) async throws -> (VirtualRun.Outcome, [RunEvent]) {
        let pattern = SleeperPattern()
        let validated = try PatternCatalog(patterns: [pattern]).validate(parameters.mapValues(RawParameter.json), for: pattern).get()
        let clock = VirtualClock()
        let sink = CollectingSink()
        let context = RunContext(clock: clock.runClock, recorder: RunRecorder(clock: clock.runClock, sink: sink))
        let outcome = await VirtualRun.execute(
            pattern, parameters: validated, context: context, clock: clock, timeLimit: timeLimit, realTimeLimit: realTimeLimit)
        return (outcome, sink.events)
    }

    @Test func deadlock_failsTheRun_sayingWhereTimeStood() async throws {
        let (outcome, _) = try await run(["steps": 2, "sleep_ms": 25, "hang": true])
        #expect(outcome.stop == .halted(.stalled(at: .milliseconds(50))))
        #expect(outcome.execution.status == .failed)
        #expect(outcome.execution.error?.contains("virtual time stalled at 50.0 ms") == true)
    }

    /// The next deadline past the limit: the run is cancelled there, with the clock still
    /// at the last deadline before it.
    @Test func deadlinePastTheVirtualLimit_failsTheRun_beforeTimeGetsThere() async throws {
        let (outcome, _) = try await run(["steps": 5, "sleep_ms": 400_000], timeLimit: .seconds(1_000))
        #expect(outcome.stop == .halted(.timeLimit(next: .seconds(1_200), limit: .seconds(1_000))))
        #expect(outcome.execution.status == .failed)
        #expect(outcome.endedAt == .seconds(800))
    }

    /// Endless sleeps that cost no real time each still add up: the real time limit
    /// stops the run (this waits for the limit, and asserts only how the run ended).
    @Test func endlessRun_isStoppedByTheRealTimeLimit() async throws {
        let (outcome, _) = try await run(["steps": 0, "sleep_ms": 1], realTimeLimit: .milliseconds(50))
        #expect(outcome.stop == .realTimeLimit(.milliseconds(50)))
        #expect(outcome.execution.status == .failed)
        #expect(outcome.execution.error?.contains("real time limit") == true)
        #expect(outcome.endedAt > .zero)
    }

    @Test func cancellingTheCaller_cancelsTheRun_withoutCallingItFailed() async throws {
        let task = Task { try await run(["steps": 0, "sleep_ms": 1]) }
        task.cancel()
        let (outcome, _) = try await task.value
        #expect(outcome.execution.status == .cancelled)
        #expect(outcome.stop == nil)
    }

    /// A run that ends normally is not stopped, and the clock stays where it ended.
    @Test func runThatEnds_isNotStopped() async throws {
        let (outcome, events) = try await run(["steps": 3, "sleep_ms": 7], timeLimit: .seconds(1))
        #expect(outcome.execution.outcome?.result["steps"] == 3)
        #expect(outcome.stop == nil)
        #expect(outcome.execution.status == .succeeded)
        #expect(outcome.endedAt == .milliseconds(21))
        #expect(events.first?.name == "run.started")
    }
}
