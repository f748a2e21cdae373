import LabJSON

/// Checks a document against the Chrome Trace Event format as its viewers read it (Google's
/// "Trace Event Format", JSON Object Format): the fields each phase needs, their types, and the
/// nesting a thread's slices must keep (Perfetto drops a complete event that overlaps another on
/// its thread without nesting). Returns what is wrong, empty when nothing is.
enum TraceValidator {
    static let phases: Set<String> = ["X", "i", "C", "M"]
    static let metadataNames: Set<String> = ["process_name", "thread_name", "thread_sort_index"]

    static func issues(_ document: JSONValue) -> [String] {
        guard let events = document["traceEvents"]?.arrayValue else { return ["no traceEvents array"] }
        var issues: [String] = []
        if let unit = document["displayTimeUnit"], unit != "ms" && unit != "ns" { issues.append("displayTimeUnit \(unit)") }
        for (index, event) in events.enumerated() {
            issues += eventIssues(event).map { "event \(index) (\(event["name"]?.stringValue ?? "?")): \($0)" }
        }
        return issues + nestingIssues(events)
    }

    private static func eventIssues(_ event: JSONValue) -> [String] {
        guard let phase = event["ph"]?.stringValue, phases.contains(phase) else { return ["ph \(event["ph"] ?? .null) is not X, i, C or M"] }
        var issues: [String] = []
        if event["name"]?.stringValue?.isEmpty != false { issues.append("no name") }
        if event["pid"]?.intValue == nil || event["tid"]?.intValue == nil { issues.append("pid and tid must be integers") }
        if phase != "M", (event["ts"]?.intValue ?? -1) < 0 { issues.append("ts must be a whole number of microseconds >= 0") }
        if let args = event["args"], args.objectValue == nil { issues.append("args must be an object") }
        switch phase {
        case "X":
            if (event["dur"]?.intValue ?? -1) < 0 { issues.append("a complete event needs dur >= 0") }
        case "i":
            if !["t", "p", "g"].contains(event["s"]?.stringValue ?? "t") { issues.append("instant scope \(event["s"] ?? .null)") }
        case "C":
            let values = event["args"]?.objectValue?.values.map { $0.doubleValue } ?? []
            if values.isEmpty || values.contains(where: { $0 == nil }) { issues.append("a counter's args must be numbers") }
        default:
            if !metadataNames.contains(event["name"]?.stringValue ?? "") { issues.append("unknown metadata") }
            if event["args"]?.objectValue == nil { issues.append("metadata needs args") }
        }
        return issues
    }

    /// Complete events on one thread must nest: each starts after the previous one ended or
    /// ends within it.
    private static func nestingIssues(_ events: [JSONValue]) -> [String] {
        var byThread: [Int: [(start: Int, end: Int)]] = [:]
        for event in events where event["ph"] == "X" {
            guard let tid = event["tid"]?.intValue, let ts = event["ts"]?.intValue, let dur = event["dur"]?.intValue else { continue }
            byThread[tid, default: []].append((ts, ts + dur))
        }
        var issues: [String] = []
        for (tid, slices) in byThread {
            var open: [Int] = []
            for slice in slices.sorted(by: { ($0.start, -$0.end) < ($1.start, -$1.end) }) {
                while let last = open.last, last <= slice.start { open.removeLast() }
                if let last = open.last, slice.end > last { issues.append("thread \(tid): slices overlap without nesting") }
                open.append(slice.end)
            }
        }
        return issues
    }
}
