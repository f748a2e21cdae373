import LabJSON

/// A quantity a pattern counts over time (permits held, queue size, the shared counter), which
/// the page draws as a step chart on the run's time axis and the trace export writes as a
/// counter track.
///
/// The convention that carries it: every event that changes a counter includes the counter's
/// new value in its data, under the counter's `name` (`semaphore.acquired` carries
/// `"permits_held": 3, "waiting": 7`). A viewer rebuilds each counter's step function from the
/// events alone, so a replay of a stored run draws the same charts as the live view. The last
/// value a run emits for a counter equals the matching result figure, when the result has one.
/// A counter is not named like a key the common events carry (`completed` and `total` of
/// `progress`; `task`, `label`, `duration_ms` and `error` of the task events): a viewer would
/// read their values as the counter's.
public struct CounterSpec: Sendable, Equatable {
    /// snake_case, unique within the pattern; the key its value has in event data.
    public let name: String
    /// What is counted, as a person reads it: "permits held".
    public let title: String

    public init(_ name: String, _ title: String) {
        self.name = name
        self.title = title
    }

    public var json: JSONValue {
        ["name": .string(name), "title": .string(title)]
    }
}
