import LabJSON
import Patterns

/// A pattern for tests of how runs end: sleeps `sleep_ms` each step, `steps` times (0:
/// forever), then waits on an event nobody sets if `hang`. It plans no time at all, so
/// only the run-time limits can stop it.
public struct SleeperPattern: Pattern {
    public init() {}

    public let name = "sleeper"
    public let title = "sleeper"
    public let summary = ""
    public let asyncioEquivalent = ""
    public let swiftEquivalent = ""
    public let invariants: [String] = []

    public func parameters(limits: PatternLimits) -> [ParameterSpec] {
        [
            .integer("steps", default: 1, min: 0, max: 1_000, ""), .integer("sleep_ms", default: 10, min: 1, max: 1_000_000_000, ""),
            .boolean("hang", default: false, ""),
        ]
    }

    public func plannedDuration(_ parameters: ParameterSet) -> Duration { .zero }

    public func run(_ parameters: ParameterSet, context: RunContext) async throws -> PatternOutcome {
        let steps = parameters.int("steps")
        var step = 0
        while steps == 0 || step < steps {
            try await context.sleep(ms: parameters.int("sleep_ms"))
            step += 1
        }
        if parameters.bool("hang") { try await AsyncEvent().wait() }
        return PatternOutcome(result: ["steps": .int(step)], checks: [])
    }
}
