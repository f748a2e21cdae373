import LabJSON
import Synchronization

/// Timestamps a run's events and task spans, and forwards events to the run's sink.
///
/// Invariants: per-task spans and per-task events are kept only up to the caps, while the
/// counters count every task, so a run of a million tasks holds at most `spanCap` spans;
/// `progress` events are coalesced to at most one per `progressInterval` of run time plus
/// the final one.
public final class RunRecorder: Sendable {
    private struct State {
        var spans: [Span] = []
        var tasksStarted = 0
        /// Tasks per outcome, indexed by `SpanOutcome.index`: a counter bump, not a hash.
        var outcomeCounts = [Int](repeating: 0, count: SpanOutcome.allCases.count)
        var completed = 0
        var total = 0
        var lastProgressMs = -Double.infinity
        var lastProgressCompleted = -1
        var taskEvents = 0
        var eventsDropped = 0

        /// Counts a per-task event against the cap: true when it is kept.
        mutating func admitTaskEvent(cap: Int) -> Bool {
            guard taskEvents < cap else {
                eventsDropped += 1
                return false
            }
            taskEvents += 1
            return true
        }

        /// Advances progress; the snapshot to announce when one is due (coalesced to one per
        /// `interval`, plus the final one).
        mutating func advance(by units: Int, at now: Double, interval: Double) -> (Int, Int)? {
            completed += units
            guard now - lastProgressMs >= interval || completed == total else { return nil }
            lastProgressMs = now
            lastProgressCompleted = completed
            return (completed, total)
        }
    }

    public let clock: RunClock
    private let sink: any RunEventSink
    private let spanCap: Int
    private let eventCap: Int
    private let progressIntervalMs: Double
    private let state = Mutex(State())

    public init(
        clock: RunClock, sink: any RunEventSink, spanCap: Int = 10_000, eventCap: Int = 50_000,
        progressInterval: Duration = .milliseconds(50)
    ) {
        self.clock = clock
        self.sink = sink
        self.spanCap = spanCap
        self.eventCap = eventCap
        self.progressIntervalMs = progressInterval.milliseconds
    }

    /// Emits an event that is not per-task (run and pattern milestones): never dropped.
    public func milestone(_ name: String, _ data: [String: JSONValue] = [:]) {
        deliver(RunEvent(name: name, serializedData: Self.stamped(data, at: clock.elapsedMs())))
    }

    /// Emits a per-task pattern event (`semaphore.acquired`, `queue.put`): kept up to the
    /// event cap, counted past it. `data` (distinct keys) is an autoclosure: past the cap a
    /// hot loop pays for a counter, not for its members; below it they are written as JSON
    /// with `t_ms` straight away, never hashed into a dictionary.
    public func event(_ name: String, _ data: @autoclosure () -> KeyValuePairs<String, JSONValue> = [:]) {
        let admitted = state.withLock { $0.admitTaskEvent(cap: eventCap) }
        guard admitted else { return }
        deliver(RunEvent(name: name, serializedData: Self.stamped(data(), at: clock.elapsedMs())))
    }

    /// `event(_:_:)` for data that is integers under distinct literal keys other than `t_ms`,
    /// given in sorted order (a per-task event on a hot path: `gather.result` is written once
    /// per task, inside the lock that orders the results). Written with `JSONWriter`, `t_ms` in
    /// its sorted place:
    /// the same bytes `event(_:_:)` writes, without a `JSONValue` or a string comparison per
    /// key (the tests compare the two).
    public func event(_ name: String, integers: KeyValuePairs<StaticString, Int>) {
        let admitted = state.withLock { $0.admitTaskEvent(cap: eventCap) }
        guard admitted else { return }
        deliver(RunEvent(name: name, serializedData: Self.stamped(integers: integers, at: clock.elapsedMs())))
    }

    static func stamped(integers: KeyValuePairs<StaticString, Int>, at now: Double) -> SerializedJSON {
        var writer = JSONWriter(capacity: 24 + 16 * integers.count)
        writer.beginObject()
        var stamped = false
        var previous: StaticString?
        for (key, value) in integers {
            assert(previous.map { Self.precedes($0, key) } ?? true, "keys must be distinct, in sorted order")
            assert(Self.precedes(key, "t_ms") || Self.precedes("t_ms", key), "t_ms is the recorder's key")
            previous = key
            if !stamped && Self.precedes("t_ms", key) {
                writer.key("t_ms"); writer.number(JSONValue.tenths(now))
                stamped = true
            }
            writer.key(key); writer.int(value)
        }
        if !stamped { writer.key("t_ms"); writer.number(JSONValue.tenths(now)) }
        writer.endObject()
        return SerializedJSON(bytes: writer.bytes)
    }

    /// Byte order of two literal keys (their order as strings, for the ASCII keys used here).
    private static func precedes(_ first: StaticString, _ second: StaticString) -> Bool {
        first.withUTF8Buffer { a in second.withUTF8Buffer { b in a.lexicographicallyPrecedes(b) } }
    }

    /// Emits a per-task event (as `event`) and advances progress by `units`: when a `progress`
    /// event is due, the two reach the sink as one append (`append(contentsOf:)`), so an event
    /// stream sends them in one write. Under the progress lock, as every progress event.
    public func event(
        _ name: String, _ data: @autoclosure () -> KeyValuePairs<String, JSONValue>, advancingProgressBy units: Int
    ) {
        let now = clock.elapsedMs()
        state.withLock { state in
            var events: [RunEvent] = []
            if state.admitTaskEvent(cap: eventCap) {
                events.append(RunEvent(name: name, serializedData: Self.stamped(data(), at: now)))
            }
            if let (completed, total) = state.advance(by: units, at: now, interval: progressIntervalMs) {
                events.append(Self.progressEvent(completed: completed, total: total, at: now))
            }
            deliver(contentsOf: events)
        }
    }

    public func setTotal(_ total: Int) {
        state.withLock { $0.total = total }
    }

    /// Starts a task's span and announces it (`task.started`), under one lock: the span
    /// cap and the event cap are checked together. Past the span cap nothing shows the label:
    /// a million tasks need not format one each.
    public func startTask(_ task: Int, label: String? = nil) -> SpanHandle {
        let now = clock.elapsedMs()
        let (recorded, announced) = state.withLock { state -> (Bool, Bool) in
            state.tasksStarted += 1
            guard state.tasksStarted <= spanCap else { return (false, false) }
            return (true, state.admitTaskEvent(cap: eventCap))
        }
        guard recorded else { return SpanHandle(task: task, label: "", startMs: now, recorded: false) }
        let label = label ?? "task-\(task)"
        if announced {
            deliver(RunEvent(name: "task.started", serializedData: Self.taskEventData(task, label, at: now)))
        }
        return SpanHandle(task: task, label: label, startMs: now, recorded: true)
    }

    /// Ends a task's span, announces it, and advances progress by one unless told not to,
    /// under one lock: the span, the event cap and progress are updated together, and the
    /// task's event and a `progress` event made due reach the sink as one append, the task's
    /// first, so a progress event never counts a task whose end is not in the log yet (the
    /// final `progress` comes after every task's end). The event's data is written before the
    /// lock is taken (it is dropped if the event cap turns it away). The sink's append, and the
    /// observers it calls, run with the lock held: they must not call back into the recorder.
    public func finishTask(
        _ handle: SpanHandle, outcome: SpanOutcome, detail: [String: JSONValue] = [:], countsAsProgress: Bool = true
    ) {
        let now = clock.elapsedMs()
        let event = handle.recorded ? Self.finishedEvent(handle, outcome: outcome, detail: detail, at: now) : nil
        state.withLock { state in
            state.outcomeCounts[outcome.index] += 1
            var announced: RunEvent?
            if let event {
                state.spans.append(
                    Span(task: handle.task, label: handle.label, startMs: handle.startMs, endMs: now, outcome: outcome))
                if state.admitTaskEvent(cap: eventCap) { announced = event }
            }
            let progress = countsAsProgress ? state.advance(by: 1, at: now, interval: progressIntervalMs) : nil
            switch (announced, progress) {
            case (let event?, nil): deliver(event)
            case (nil, let (completed, total)?): emitProgress(completed: completed, total: total, at: now)
            case (let event?, let (completed, total)?):
                deliver(contentsOf: [event, Self.progressEvent(completed: completed, total: total, at: now)])
            case (nil, nil): break
            }
        }
    }

    /// The event announcing a task's end (`task.finished`, `task.failed`, ...).
    private static func finishedEvent(
        _ handle: SpanHandle, outcome: SpanOutcome, detail: [String: JSONValue], at now: Double
    ) -> RunEvent {
        let duration = now - handle.startMs
        guard !detail.isEmpty else {
            return RunEvent(
                name: outcome.eventName, serializedData: taskEventData(handle.task, handle.label, at: now, durationMs: duration))
        }
        var data = detail
        data["task"] = .int(handle.task)
        data["label"] = .string(handle.label)
        data["duration_ms"] = .milliseconds(duration)
        return RunEvent(name: outcome.eventName, serializedData: stamped(data, at: now))
    }

    /// `{"duration_ms":…,"label":…,"t_ms":…,"task":…}` (keys sorted, as every event's data),
    /// written directly: these are most of a run's events.
    static func taskEventData(_ task: Int, _ label: String, at now: Double, durationMs: Double? = nil) -> SerializedJSON {
        var writer = JSONWriter(capacity: 64 + label.utf8.count)
        writer.beginObject()
        if let durationMs {
            writer.key("duration_ms"); writer.number(JSONValue.tenths(durationMs))
        }
        writer.key("label"); writer.string(label)
        writer.key("t_ms"); writer.number(JSONValue.tenths(now))
        writer.key("task"); writer.int(task)
        writer.endObject()
        return SerializedJSON(bytes: writer.bytes)
    }

    /// Advances progress for work that is not one task (items consumed, ticks).
    public func advanceProgress(by units: Int = 1) {
        advanceProgress(by: units, at: clock.elapsedMs())
    }

    /// Progress events are appended with the lock held, so they reach the log in the order
    /// their counts were taken: a slower thread cannot append 1,989 after another's 2,000.
    /// (The sink never calls back into the recorder, so holding the lock there is safe.)
    private func advanceProgress(by units: Int, at now: Double) {
        state.withLock { state in
            guard let (completed, total) = state.advance(by: units, at: now, interval: progressIntervalMs) else { return }
            emitProgress(completed: completed, total: total, at: now)
        }
    }

    /// Emits the last progress event if the coalescing held one back.
    public func flushProgress() {
        let now = clock.elapsedMs()
        state.withLock { state in
            guard state.completed != state.lastProgressCompleted else { return }
            state.lastProgressMs = now
            state.lastProgressCompleted = state.completed
            emitProgress(completed: state.completed, total: state.total, at: now)
        }
    }

    private func emitProgress(completed: Int, total: Int, at now: Double) {
        deliver(Self.progressEvent(completed: completed, total: total, at: now))
    }

    private static func progressEvent(completed: Int, total: Int, at now: Double) -> RunEvent {
        let data: KeyValuePairs<String, JSONValue> = ["completed": .int(completed), "total": .int(total)]
        return RunEvent(name: "progress", serializedData: stamped(data, at: now))
    }

    /// Hands an event to the sink as the world's business, not the run's: a subscriber the
    /// sink resumes is a task of the server, which must not join a virtual run's thread.
    private func deliver(_ event: RunEvent) {
        VirtualExecutor.outsideRun { sink.append(event) }
    }

    /// `events` as one append (nothing when empty), as `deliver`.
    private func deliver(contentsOf events: [RunEvent]) {
        guard !events.isEmpty else { return }
        VirtualExecutor.outsideRun { sink.append(contentsOf: events) }
    }

    public var progress: (completed: Int, total: Int) {
        state.withLock { ($0.completed, $0.total) }
    }

    /// Per-task events dropped past the cap.
    public var eventsDropped: Int { state.withLock { $0.eventsDropped } }

    public func timeline() -> Timeline {
        state.withLock { state in
            let spans = state.spans.sorted { ($0.startMs, $0.task) < ($1.startMs, $1.task) }
            var outcomes: [SpanOutcome: Int] = [:]
            for outcome in SpanOutcome.allCases where state.outcomeCounts[outcome.index] > 0 {
                outcomes[outcome] = state.outcomeCounts[outcome.index]
            }
            return Timeline(
                spans: spans, truncated: state.tasksStarted > spanCap, tasksStarted: state.tasksStarted,
                outcomes: outcomes)
        }
    }

    /// An event's data as JSON: its members plus `t_ms`, written without a dictionary copy.
    private static func stamped<Members: Collection>(_ members: Members, at now: Double) -> SerializedJSON
    where Members.Element == (key: String, value: JSONValue) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(96)
        JSONValue.writeObject(members, extra: ("t_ms", .milliseconds(now)), into: &bytes)
        return SerializedJSON(bytes: bytes)
    }
}
