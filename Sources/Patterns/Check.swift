import LabJSON

/// One invariant a run verified: what was expected, what was observed, and whether they
/// agree. `observed` always comes from the run itself.
public struct Check: Sendable, Hashable {
    public let name: String
    public let expected: String
    public let observed: JSONValue
    public let passed: Bool

    public init(name: String, expected: String, observed: JSONValue, passed: Bool) {
        self.name = name
        self.expected = expected
        self.observed = observed
        self.passed = passed
    }

    public static func equal(_ name: String, observed: Int, expected: Int) -> Check {
        Check(name: name, expected: "== \(expected)", observed: .int(observed), passed: observed == expected)
    }

    public static func atMost(_ name: String, observed: Int, limit: Int) -> Check {
        Check(name: name, expected: "<= \(limit)", observed: .int(observed), passed: observed <= limit)
    }

    public static func atLeast(_ name: String, observed: Int, minimum: Int) -> Check {
        Check(name: name, expected: ">= \(minimum)", observed: .int(observed), passed: observed >= minimum)
    }

    public static func isTrue(_ name: String, _ observed: Bool, expected: String = "true") -> Check {
        Check(name: name, expected: expected, observed: .bool(observed), passed: observed)
    }

    /// A time that must be at least `minimumMs`: `observed` is shown in milliseconds.
    public static func atLeastMs(_ name: String, observedMs: Double, minimumMs: Double, _ note: String = "") -> Check {
        Check(
            name: name, expected: ">= \(JSONValue.milliseconds(minimumMs).serialized()) ms\(note.isEmpty ? "" : " (\(note))")",
            observed: .milliseconds(observedMs), passed: observedMs >= minimumMs)
    }

    /// A time that must be at most `maximumMs`: `observed` is shown in milliseconds.
    public static func atMostMs(_ name: String, observedMs: Double, maximumMs: Double, _ note: String = "") -> Check {
        Check(
            name: name, expected: "<= \(JSONValue.milliseconds(maximumMs).serialized()) ms\(note.isEmpty ? "" : " (\(note))")",
            observed: .milliseconds(observedMs), passed: observedMs <= maximumMs)
    }

    public var json: JSONValue {
        ["name": .string(name), "expected": .string(expected), "observed": observed, "passed": .bool(passed)]
    }
}
