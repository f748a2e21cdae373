import Patterns
import TestSupport
import Testing

/// The driver itself: it must advance through a run's deadlines exactly, cancel on cue,
/// and turn a run that can never finish into a failure rather than a hang.
@Suite struct TestRunTests {
    /// Sleeps `steps` times for 10 ms, then waits on an event nobody sets if `hang`.
    struct StepPattern: Pattern {
        let name = "steps"
        let title = "steps"
        let summary = ""
        let asyncioEquivalent = ""
        let swiftEquivalent = ""
        let invariants: [String] = []

        func parameters(limits: PatternLimits) -> [ParameterSpec] {
            [.integer("steps", default: 3, min: 0, max: 10, ""), .boolean("hang", default: false, "")]
        }

        func plannedDuration(_ parameters: ParameterSet) -> Duration { .zero }

        func run(_ parameters: ParameterSet, context: RunContext) async throws -> PatternOutcome {
            for step in 0..<parameters.int("steps") {
                try await context.sleep(ms: 10)
                context.emit("step", ["step": .int(step)])
            }
            if parameters.bool("hang") { try await AsyncEvent().wait() }
            return PatternOutcome(result: ["ended_ms": .milliseconds(context.elapsedMs())], checks: [])
        }
    }

    @Test func driver_advancesDeadlineByDeadline() async throws {
        let run = try await TestRun.execute(StepPattern(), ["steps": 3])
        #expect(run.times(of: "step") == [10, 20, 30])
        #expect(run.result["ended_ms"]?.doubleValue == 30)
        #expect(run.endedAt == .milliseconds(30))
    }

    @Test func cancelAt_cancelsTheRunAtThatTime() async throws {
        let run = try await TestRun.execute(StepPattern(), ["steps": 5], cancelAt: .milliseconds(25))
        #expect(run.status == .cancelled)
        #expect(run.times(of: "step") == [10, 20])
        #expect(run.endedAt == .milliseconds(25))
    }

    /// A cancellation at the very instant of a deadline comes after what is due then.
    @Test func cancelAtADeadline_comesAfterWhatIsDueThen() async throws {
        let run = try await TestRun.execute(StepPattern(), ["steps": 5], cancelAt: .milliseconds(20))
        #expect(run.status == .cancelled)
        #expect(run.times(of: "step") == [10, 20])
        #expect(run.endedAt == .milliseconds(20))
    }

    @Test func runThatCanNeverFinish_failsInsteadOfHanging() async throws {
        await #expect(throws: TestRunStuck.self) {
            _ = try await TestRun.execute(StepPattern(), ["steps": 1, "hang": true])
        }
    }

    /// Starts unstructured tasks (no executor preference, like swift-async-algorithms'
    /// debounce) that sleep on the run's clock, and waits for them. Without
    /// `GlobalJobRouting` they would run on the global pool and the virtual run would stall.
    struct UnstructuredPattern: Pattern {
        let name = "unstructured"
        let title = "unstructured"
        let summary = ""
        let asyncioEquivalent = ""
        let swiftEquivalent = ""
        let invariants: [String] = []

        func parameters(limits: PatternLimits) -> [ParameterSpec] { [] }
        func plannedDuration(_ parameters: ParameterSet) -> Duration { .zero }

        func run(_ parameters: ParameterSet, context: RunContext) async throws -> PatternOutcome {
            let tasks = [30, 10, 20].map { delay in
                Task {
                    try await context.sleep(ms: delay)
                    context.emit("woke", ["delay": .int(delay)])
                }
            }
            try await withTaskCancellationHandler {
                for task in tasks { try await task.value }
            } onCancel: {
                for task in tasks { task.cancel() }
            }
            return PatternOutcome(result: [:], checks: [])
        }
    }

    @Test func unstructuredTasksOfARun_joinItsVirtualExecutor_inClockOrder() async throws {
        for _ in 0..<20 {
            let run = try await TestRun.execute(UnstructuredPattern())
            #expect(run.ints("delay", in: "woke") == [10, 20, 30])
            #expect(run.times(of: "woke") == [10, 20, 30])
            #expect(run.status == .succeeded)
        }
    }

    @Test func unstructuredTasksOfARun_areCancelledWithIt() async throws {
        let run = try await TestRun.execute(UnstructuredPattern(), cancelAt: .milliseconds(15))
        #expect(run.status == .cancelled)
        #expect(run.ints("delay", in: "woke") == [10])
    }
}
