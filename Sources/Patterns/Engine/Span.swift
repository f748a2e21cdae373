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

    /// `structuredJSON.serialized()`, written straight from the spans into memory reserved for
    /// them (`ReservedJSONWriter`): 10,000 spans make 800 KB, and building a dictionary per span
    /// first, then sorting its keys to write it, cost most of the time between a large run's
    /// end and its answer; writing them through an array's appends still took 4-6 ms.
    public var serializedJSON: SerializedJSON {
        typealias Writer = ReservedJSONWriter
        // Per span: its keys and punctuation (57 bytes), two numbers, an integer, the outcome.
        let fixed = 64 + 2 * Writer.maxNumberBytes + Writer.maxIntegerBytes + Writer.maxStringBytes(utf8Count: 9)
        var bound = 512  // the outcomes, the tail and the brackets: about 220 bytes at most
        for span in spans { bound += fixed + Writer.maxStringBytes(utf8Count: span.label.utf8.count) }
        let bytes = Writer.write(upTo: bound) { writer in
            writer.literal("{\"outcomes\":{")
            for (index, outcome) in Self.outcomesByName.enumerated() {
                if index > 0 { writer.byte(UInt8(ascii: ",")) }
                writer.string(outcome.rawValue)
                writer.byte(UInt8(ascii: ":"))
                writer.int(outcomes[outcome] ?? 0)
            }
            writer.literal("},\"spans\":[")
            for (index, span) in spans.enumerated() {
                writer.literal(index == 0 ? "{\"end_ms\":" : ",{\"end_ms\":")
                writer.number(JSONValue.tenths(span.endMs))
                writer.literal(",\"label\":")
                writer.string(span.label)
                writer.literal(",\"outcome\":")
                writer.string(span.outcome.rawValue)
                writer.literal(",\"start_ms\":")
                writer.number(JSONValue.tenths(span.startMs))
                writer.literal(",\"task\":")
                writer.int(span.task)
                writer.byte(UInt8(ascii: "}"))
            }
            writer.literal("],\"tasks\":")
            writer.int(tasksStarted)
            writer.literal(",\"truncated\":")
            if truncated { writer.literal("true") } else { writer.literal("false") }
            writer.byte(UInt8(ascii: "}"))
        }
        return SerializedJSON(bytes: bytes)
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
