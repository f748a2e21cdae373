import LabJSON

/// The spans of a run's timeline as complete trace events, one track per task, each tied to
/// the `task.started` and end event that announced it (matched per task, in order), so those
/// events are the span and are not repeated as instants.
struct SpanTracks {
    /// The complete events (`ph` X).
    private(set) var completeEvents: [JSONValue] = []
    /// Ids of the lifecycle events a span stands for.
    private(set) var covered: Set<Int> = []
    /// The tracks (`tid`) that have a span.
    private(set) var tracks: Set<Int> = []
    /// Each task's label, for its track's name.
    private(set) var labels: [Int: String] = [:]

    init(spans: [JSONValue], events: [TraceSourceEvent]) {
        var starts: [Int: [TraceSourceEvent]] = [:]
        var ends: [Int: [TraceSourceEvent]] = [:]
        for event in events where ChromeTrace.lifecycle.contains(event.name) {
            guard let task = event.data["task"]?.intValue else { continue }
            if event.name == "task.started" { starts[task, default: []].append(event) } else { ends[task, default: []].append(event) }
        }
        let ordered = spans.sorted { ($0["start_ms"]?.doubleValue ?? 0) < ($1["start_ms"]?.doubleValue ?? 0) }
        for span in ordered {
            guard let task = span["task"]?.intValue else { continue }
            let started = starts[task]?.isEmpty == false ? starts[task]?.removeFirst() : nil
            let ended = ends[task]?.isEmpty == false ? ends[task]?.removeFirst() : nil
            add(span, task: task, started: started, ended: ended)
        }
    }

    private mutating func add(_ span: JSONValue, task: Int, started: TraceSourceEvent?, ended: TraceSourceEvent?) {
        let startMs = span["start_ms"]?.doubleValue ?? 0
        let endMs = span["end_ms"]?.doubleValue ?? startMs
        let tid = ChromeTrace.track(ofTask: task)
        let label = span["label"]?.stringValue ?? "task-\(task)"
        var args: [String: JSONValue] = ["task": .int(task), "outcome": span["outcome"] ?? "ok"]
        if let started {
            args["started_event"] = .int(started.id)
            covered.insert(started.id)
        }
        if let ended {
            args["ended_event"] = .int(ended.id)
            covered.insert(ended.id)
            if let error = ended.data["error"] { args["error"] = error }
        }
        let start = ChromeTrace.microseconds(startMs)
        completeEvents.append([
            "name": .string(label), "cat": "task", "ph": "X", "ts": .int(start),
            "dur": .int(max(0, ChromeTrace.microseconds(endMs) - start)), "pid": .int(ChromeTrace.pid), "tid": .int(tid),
            "args": .object(args),
        ])
        tracks.insert(tid)
        labels[task] = labels[task] ?? label
    }
}
