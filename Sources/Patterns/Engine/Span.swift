import LabJSON

/// How one task ended.
public enum SpanOutcome: String, Sendable, Codable, CaseIterable {
    case ok, error, cancelled, timeout

    /// The event a task's end is announced with.
    var eventName: String {
        switch self {
        case .ok: "task.finished"
        case .error: "task.failed"
        case .cancelled: "task.cancelled"
        case .timeout: "task.timeout"
        }
    }

    /// Its position in `allCases`, for counters kept in an array.
    var index: Int {
        switch self {
        case .ok: 0
        case .error: 1
        case .cancelled: 2
        case .timeout: 3
        }
    }

    /// Classifies what a task's body threw.
    public init(error: any Error) {
        switch error {
        case is CancellationError: self = .cancelled
        case is PatternTimeoutError: self = .timeout
        default: self = .error
        }
    }
}

/// One task's bar in the timeline.
public struct Span: Sendable, Hashable {
    public let task: Int
    public let label: String
    public let startMs: Double
    public let endMs: Double
    public let outcome: SpanOutcome

    public var json: JSONValue {
        [
            "task": .int(task), "label": .string(label), "start_ms": .milliseconds(startMs),
            "end_ms": .milliseconds(endMs), "outcome": .string(outcome.rawValue),
        ]
    }
}

/// A started task, handed back to `RunRecorder.finishTask`. `recorded` is false past the
/// span cap: the task is still counted, just not drawn.
public struct SpanHandle: Sendable {
    public let task: Int
    public let label: String
    public let startMs: Double
    let recorded: Bool
}

/// The timeline of a run: spans up to the cap, and counts of every task.
public struct Timeline: Sendable {
    public let spans: [Span]
    public let truncated: Bool
    public let tasksStarted: Int
    public let outcomes: [SpanOutcome: Int]

    /// The timeline as JSON, already serialized (see `serializedJSON`).
    public var json: JSONValue { .serialized(serializedJSON) }

    /// The timeline as a tree of values: what `json` holds, built member by member.
    public var structuredJSON: JSONValue {
        var counts: [String: JSONValue] = [:]
        for outcome in SpanOutcome.allCases { counts[outcome.rawValue] = .int(outcomes[outcome] ?? 0) }
        return [
            "spans": .array(spans.map(\.json)), "truncated": .bool(truncated),
            "tasks": .int(tasksStarted), "outcomes": .object(counts),
        ]
    }

    /// `structuredJSON.serialized()`, written straight from the spans: 10,000 spans make
    /// 800 KB, and building a dictionary per span first, then sorting its keys to write it,
    /// cost most of the time between a large run's end and its answer.
    public var serializedJSON: SerializedJSON {
        var writer = JSONWriter(capacity: 128 + 96 * spans.count)
        writer.beginObject()
        writer.key("outcomes")
        writer.beginObject()
        for outcome in Self.outcomesByName {
            writer.key(outcome.rawValue)
            writer.int(outcomes[outcome] ?? 0)
        }
        writer.endObject()
        writer.key("spans")
        writer.beginArray()
        for span in spans {
            writer.beginObject()
            writer.key("end_ms"); writer.number(JSONValue.tenths(span.endMs))
            writer.key("label"); writer.string(span.label)
            writer.key("outcome"); writer.string(span.outcome.rawValue)
            writer.key("start_ms"); writer.number(JSONValue.tenths(span.startMs))
            writer.key("task"); writer.int(span.task)
            writer.endObject()
        }
        writer.endArray()
        writer.key("tasks"); writer.int(tasksStarted)
        writer.key("truncated"); writer.bool(truncated)
        writer.endObject()
        return SerializedJSON(bytes: writer.bytes)
    }

    private static let outcomesByName = SpanOutcome.allCases.sorted { $0.rawValue < $1.rawValue }

}

/// Thrown by a task whose own deadline passed (as distinct from being cancelled).
public struct PatternTimeoutError: Error, Sendable, CustomStringConvertible {
    public let afterMs: Double
    public init(afterMs: Double) { self.afterMs = afterMs }
    public var description: String { "timed out after \(afterMs) ms" }
}

/// A failure a pattern injects on purpose (`fail_index`, `failure_rate`).
public struct InjectedFailure: Error, Sendable, CustomStringConvertible {
    public let task: Int
    public init(task: Int) { self.task = task }
    public var description: String { "injected failure in task \(task)" }
}
