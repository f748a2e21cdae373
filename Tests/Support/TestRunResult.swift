import LabJSON
import Patterns

/// What a `TestRun` did: how it ended, its figures and checks, and every event in order.
public struct TestRunResult: Sendable {
    public let execution: RunExecution
    public let events: [RunEvent]
    /// The names of the events of each append to the sink, in order (events appended together
    /// are one).
    public var appends: [[String]] = []
    /// The virtual time when the run ended.
    public let endedAt: Duration

    public var status: RunStatus { execution.status }
    public var result: [String: JSONValue] { execution.outcome?.result ?? [:] }
    public var checks: [Check] { execution.outcome?.checks ?? [] }
    public var timeline: Timeline { execution.timeline }
    public var failedChecks: [Check] { checks.filter { !$0.passed } }
    public var checkNames: [String] { checks.map(\.name) }

    public func check(_ name: String) -> Check? {
        checks.first { $0.name == name }
    }

    public func events(named name: String) -> [RunEvent] {
        events.filter { $0.name == name }
    }

    /// The names of the events, leaving out the ones in `excluded` (progress, by default).
    public func eventNames(excluding excluded: Set<String> = ["progress"]) -> [String] {
        events.map(\.name).filter { !excluded.contains($0) }
    }

    /// The values of `key` in the events named `name`, in order.
    public func values(_ key: String, in name: String) -> [JSONValue] {
        events(named: name).map { $0.data[key] ?? .null }
    }

    /// `values` as integers (missing or non-integer values are left out).
    public func ints(_ key: String, in name: String) -> [Int] {
        values(key, in: name).compactMap(\.intValue)
    }

    /// Event timestamps (`t_ms`) of the events named `name`.
    public func times(of name: String) -> [Double] {
        values("t_ms", in: name).compactMap(\.doubleValue)
    }
}
