import Dispatch
import LabJSON
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
    ///
    /// A large timeline is written in parts at once, one per core (`parts(forSpans:)`), on
    /// libdispatch's threads (`concurrentPerform`; the calling thread takes a part too): this
    /// runs between a run's end and its answer, and one core took 0.7-1.2 ms for 10,000 spans.
    /// When several large runs end at once the parts compete for the cores, as the runs did.
    /// The parts are then copied once into the result.
    public var serializedJSON: SerializedJSON { serialized(parts: Self.parts(forSpans: spans.count)) }

    /// Spans written per part at the least: below this, handing work to another thread costs
    /// more than it saves.
    static let spansPerPart = 2_048

    /// How many parts `spanCount` spans are written in: one per online core (at most 4), each
    /// of at least `spansPerPart` spans.
    static func parts(forSpans spanCount: Int) -> Int {
        let cores = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        return max(1, min(cores, 4, spanCount / spansPerPart))
    }

    /// The bytes of `serializedJSON`, the spans written in `parts` parts on as many threads.
    func serialized(parts: Int) -> SerializedJSON {
        var head: [UInt8] = []
        head.reserveCapacity(96)
        head.append(contentsOf: "{\"outcomes\":{".utf8)
        for (index, outcome) in Self.outcomesByName.enumerated() {
            if index > 0 { head.append(UInt8(ascii: ",")) }
            JSONValue.writeString(outcome.rawValue, into: &head)
            head.append(UInt8(ascii: ":"))
            head.append(contentsOf: String(outcomes[outcome] ?? 0).utf8)
        }
        head.append(contentsOf: "},\"spans\":[".utf8)
        var tail: [UInt8] = []
        tail.append(contentsOf: "],\"tasks\":\(tasksStarted),\"truncated\":\(truncated)}".utf8)

        let count = max(1, min(parts, spans.count))
        let ranges = (0..<count).map { part in
            (spans.count * part / count)..<(spans.count * (part + 1) / count)
        }
        let written: [[UInt8]]
        if count == 1 {
            written = [Self.write(spans, ranges[0])]
        } else {
            let slots = Mutex([[UInt8]](repeating: [], count: count))
            DispatchQueue.concurrentPerform(iterations: count) { part in
                let bytes = Self.write(spans, ranges[part])
                slots.withLock { $0[part] = bytes }
            }
            written = slots.withLock { $0 }
        }
        let total = head.count + written.reduce(0) { $0 + $1.count } + tail.count
        let bytes = [UInt8](unsafeUninitializedCapacity: total) { buffer, initialized in
            for piece in [head] + written + [tail] {
                piece.withUnsafeBufferPointer { source in
                    guard let base = source.baseAddress else { return }
                    (buffer.baseAddress! + initialized).initialize(from: base, count: source.count)
                    initialized += source.count
                }
            }
        }
        return SerializedJSON(bytes: bytes)
    }

    /// `spans[range]` as they appear inside the `spans` array: each preceded by a comma but
    /// the array's first.
    private static func write(_ spans: [Span], _ range: Range<Int>) -> [UInt8] {
        typealias Writer = ReservedJSONWriter
        // Per span: its keys and punctuation (57 bytes), two numbers, an integer, the outcome.
        let fixed = 64 + 2 * Writer.maxNumberBytes + Writer.maxIntegerBytes + Writer.maxStringBytes(utf8Count: 9)
        var bound = 0
        for index in range { bound += fixed + Writer.maxStringBytes(utf8Count: spans[index].label.utf8.count) }
        return Writer.write(upTo: bound) { writer in
            for index in range {
                let span = spans[index]
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
        }
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
