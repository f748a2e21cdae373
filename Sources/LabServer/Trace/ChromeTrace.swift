import LabJSON
import Patterns
import Runs

/// A finished run in the Chrome Trace Event format (the JSON Object Format of Google's "Trace
/// Event Format" document), which Perfetto's UI and chrome://tracing open.
///
/// The run is one process (`pid` 1) with a track per task (a "thread": `tid` = task + 2) and
/// one for the run itself (`tid` 1). What each of the run's events becomes, exactly once:
/// - a task's span (from the run's timeline) is a complete event (`ph` X) on its track; its
///   `task.started` and end event are that span (their ids are its `started_event` and
///   `ended_event`), so they are not repeated;
/// - every other event is an instant event (`ph` i, thread scope) whose `event_id` is its id:
///   on its task's track when it names a task that has one (`task`), else on the run's;
/// - `progress` is a counter event (`ph` C) of tasks completed.
/// Every value an event carries for one of the pattern's counters is also a counter event,
/// named after the counter's title, on the run's process. Times are the run's own (virtual
/// for a `clock: virtual` run), in whole microseconds from the run's start.
public struct ChromeTrace: Sendable {
    static let pid = 1
    static let runTrack = 1
    static let lifecycle: Set<String> = ["task.started", "task.finished", "task.failed", "task.cancelled", "task.timeout"]

    let record: RunRecord
    let events: [StoredEvent]
    let counters: [CounterSpec]

    /// `counters`: the run's pattern's (its catalog entry's), drawn as counter tracks.
    public init(record: RunRecord, events: [StoredEvent], counters: [CounterSpec]) {
        self.record = record
        self.events = events
        self.counters = counters
    }

    static func track(ofTask task: Int) -> Int { task + 2 }

    static func microseconds(_ milliseconds: Double) -> Int { Int((milliseconds * 1000).rounded()) }

    /// The trace document.
    public var json: JSONValue {
        [
            "traceEvents": .array(traceEvents()), "displayTimeUnit": "ms",
            "otherData": [
                "run_id": .string(record.id), "pattern": .string(record.pattern), "status": .string(record.status.rawValue),
                "params": record.params, "duration_ms": record.durationMs.map(JSONValue.milliseconds) ?? .null,
                "clock": record.params["clock"] ?? "real", "generator": "concurrency-lab",
            ],
        ]
    }

    public func serializedBytes() -> [UInt8] { json.serializedBytes() }

    /// Metadata, then the spans, then the other events in id order.
    func traceEvents() -> [JSONValue] {
        let endMs = record.durationMs ?? 0
        let parsed = events.map { TraceSourceEvent($0, runEndMs: endMs) }
        let spans = SpanTracks(spans: Self.spans(of: record), events: parsed)
        var out = metadata(spans)
        out += spans.completeEvents
        for event in parsed where !spans.covered.contains(event.id) {
            out += translate(event, tracks: spans.tracks)
        }
        return out
    }

    static func spans(of record: RunRecord) -> [JSONValue] {
        record.timeline?["spans"]?.arrayValue ?? []
    }

    private func metadata(_ spans: SpanTracks) -> [JSONValue] {
        var out: [JSONValue] = [
            meta("process_name", tid: Self.runTrack, ["name": .string("\(record.pattern) run \(record.id)")]),
            meta("thread_name", tid: Self.runTrack, ["name": "run"]),
            meta("thread_sort_index", tid: Self.runTrack, ["sort_index": .int(Self.runTrack)]),
        ]
        for (task, label) in spans.labels.sorted(by: { $0.key < $1.key }) {
            let tid = Self.track(ofTask: task)
            out.append(meta("thread_name", tid: tid, ["name": .string(label)]))
            out.append(meta("thread_sort_index", tid: tid, ["sort_index": .int(tid)]))
        }
        return out
    }

    private func meta(_ name: String, tid: Int, _ args: [String: JSONValue]) -> JSONValue {
        ["name": .string(name), "ph": "M", "pid": .int(Self.pid), "tid": .int(tid), "args": .object(args)]
    }

    /// One event of the log as trace events: an instant (or a `progress` counter), then a
    /// counter event per counter value it carries.
    private func translate(_ event: TraceSourceEvent, tracks: Set<Int>) -> [JSONValue] {
        let ts = JSONValue.int(Self.microseconds(event.tMs))
        var out: [JSONValue] = []
        if event.name == "progress" {
            out.append(counter("tasks completed", ts: ts, ["completed": event.data["completed"] ?? 0]))
        } else {
            var args = event.data
            args["t_ms"] = nil
            args["event_id"] = .int(event.id)
            if event.name == "run.finished" { args = ["event_id": .int(event.id), "status": .string(record.status.rawValue)] }
            let task = event.data["task"]?.intValue
            let tid = task.map(Self.track(ofTask:)).flatMap { tracks.contains($0) ? $0 : nil } ?? Self.runTrack
            out.append([
                "name": .string(event.name), "cat": event.name.hasPrefix("run.") || event.name.hasPrefix("task.") ? "run" : "pattern",
                "ph": "i", "s": "t", "ts": ts, "pid": .int(Self.pid), "tid": .int(tid), "args": .object(args),
            ])
        }
        for spec in counters {
            guard let value = event.data[spec.name], value.doubleValue != nil else { continue }
            out.append(counter(spec.title, ts: ts, [spec.name: value]))
        }
        return out
    }

    private func counter(_ name: String, ts: JSONValue, _ args: [String: JSONValue]) -> JSONValue {
        ["name": .string(name), "cat": "counter", "ph": "C", "ts": ts, "pid": .int(Self.pid), "tid": .int(Self.runTrack), "args": .object(args)]
    }
}

/// One stored event with its data parsed. `run.finished` (the whole run) is not parsed: the
/// trace takes what it says from the record.
struct TraceSourceEvent: Sendable {
    let id: Int
    let name: String
    let data: [String: JSONValue]
    let tMs: Double

    init(_ stored: StoredEvent, runEndMs: Double) {
        id = stored.id
        name = stored.name
        if stored.name == "run.finished" {
            data = [:]
            tMs = runEndMs
        } else {
            data = (try? JSONValue.parse(stored.data))?.objectValue ?? [:]
            tMs = data["t_ms"]?.doubleValue ?? 0
        }
    }
}
