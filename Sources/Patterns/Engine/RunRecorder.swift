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
        sink.append(RunEvent(name: name, data: stamped(data, at: clock.elapsedMs())))
    }

    /// Emits a per-task pattern event (`semaphore.acquired`, `queue.put`): kept up to the
    /// event cap, counted past it.
    /// `data` is an autoclosure: past the cap a hot loop pays for a counter, not a dictionary.
    public func event(_ name: String, _ data: @autoclosure () -> [String: JSONValue] = [:]) {
        let admitted = state.withLock { state -> Bool in
            guard state.taskEvents < eventCap else {
                state.eventsDropped += 1
                return false
            }
            state.taskEvents += 1
            return true
        }
        if admitted { sink.append(RunEvent(name: name, data: stamped(data(), at: clock.elapsedMs()))) }
    }

    public func setTotal(_ total: Int) {
        state.withLock { $0.total = total }
    }

    public func startTask(_ task: Int, label: String? = nil) -> SpanHandle {
        let now = clock.elapsedMs()
        let recorded = state.withLock { state -> Bool in
            state.tasksStarted += 1
            return state.tasksStarted <= spanCap
        }
        // Past the cap nothing shows the label: a million tasks need not format one each.
        guard recorded else { return SpanHandle(task: task, label: "", startMs: now, recorded: false) }
        let label = label ?? "task-\(task)"
        event("task.started", ["task": .int(task), "label": .string(label)])
        return SpanHandle(task: task, label: label, startMs: now, recorded: true)
    }

    /// Ends a task's span, announces it, and advances progress by one unless told not to.
    public func finishTask(
        _ handle: SpanHandle, outcome: SpanOutcome, detail: [String: JSONValue] = [:], countsAsProgress: Bool = true
    ) {
        let now = clock.elapsedMs()
        state.withLock { state in
            state.outcomeCounts[outcome.index] += 1
            if handle.recorded {
                state.spans.append(
                    Span(task: handle.task, label: handle.label, startMs: handle.startMs, endMs: now, outcome: outcome))
            }
        }
        if handle.recorded {
            var data = detail
            data["task"] = .int(handle.task)
            data["label"] = .string(handle.label)
            data["duration_ms"] = .milliseconds(now - handle.startMs)
            event(outcome.eventName, data)
        }
        if countsAsProgress { advanceProgress(by: 1, at: now) }
    }

    /// Advances progress for work that is not one task (items consumed, ticks).
    public func advanceProgress(by units: Int = 1) {
        advanceProgress(by: units, at: clock.elapsedMs())
    }

    private func advanceProgress(by units: Int, at now: Double) {
        let snapshot = state.withLock { state -> (Int, Int)? in
            state.completed += units
            let due = now - state.lastProgressMs >= progressIntervalMs || state.completed == state.total
            guard due else { return nil }
            state.lastProgressMs = now
            state.lastProgressCompleted = state.completed
            return (state.completed, state.total)
        }
        if let (completed, total) = snapshot { emitProgress(completed: completed, total: total, at: now) }
    }

    /// Emits the last progress event if the coalescing held one back.
    public func flushProgress() {
        let now = clock.elapsedMs()
        let snapshot = state.withLock { state -> (Int, Int)? in
            guard state.completed != state.lastProgressCompleted else { return nil }
            state.lastProgressMs = now
            state.lastProgressCompleted = state.completed
            return (state.completed, state.total)
        }
        if let (completed, total) = snapshot { emitProgress(completed: completed, total: total, at: now) }
    }

    private func emitProgress(completed: Int, total: Int, at now: Double) {
        sink.append(RunEvent(name: "progress", data: stamped(["completed": .int(completed), "total": .int(total)], at: now)))
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

    private func stamped(_ data: [String: JSONValue], at now: Double) -> [String: JSONValue] {
        var data = data
        data["t_ms"] = .milliseconds(now)
        return data
    }
}
