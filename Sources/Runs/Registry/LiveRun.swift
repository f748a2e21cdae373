import Foundation
import LabJSON
import Patterns
import Synchronization

/// A run the registry holds in memory: while it runs, and for a while after it ended.
///
/// Invariant: the final record is set before `finished` fires and before `run.finished`
/// is appended, so whoever sees the end (a `?wait=` caller, an SSE client) and then reads
/// the run sees it ended.
public final class LiveRun: Sendable {
    public let id: String
    public let pattern: any Pattern
    public let parameters: ParameterSet
    public let createdAt: Date
    public let log: EventLog
    /// The links the run's JSON carries.
    let links: RunLinks
    let context: RunContext
    /// The clock of a `clock: virtual` run (nil: the run keeps real time).
    let virtualClock: VirtualClock?
    /// Whether the run keeps virtual time.
    public var isVirtual: Bool { virtualClock != nil }
    /// When the run was admitted, in real time: `real_ms` counts from here, as `duration_ms`
    /// counts from the run clock's origin, taken at the same moment.
    private let realOrigin = ContinuousClock.now
    /// Fires when cancellation is requested (by `DELETE` or shutdown).
    let cancelRequested = OneShotSignal()
    /// Fires once the final record is in place.
    public let finished = OneShotSignal()
    /// The final record and its JSON, serialized once.
    private let published = Mutex<(record: RunRecord, json: [UInt8])?>(nil)

    init(
        id: String, pattern: any Pattern, parameters: ParameterSet, createdAt: Date, log: EventLog, links: RunLinks,
        context: RunContext, virtualClock: VirtualClock? = nil
    ) {
        self.id = id
        self.pattern = pattern
        self.parameters = parameters
        self.createdAt = createdAt
        self.log = log
        self.links = links
        self.context = context
        self.virtualClock = virtualClock
    }

    /// Real time since admission, in milliseconds.
    private var realMs: Double { realOrigin.duration(to: .now).milliseconds }

    /// The run as it is now: the final record once it ended, a live view before.
    public func snapshot() -> RunRecord {
        if let record = published.withLock({ $0?.record }) { return record }
        let progress = context.recorder.progress
        return RunRecord(
            id: id, pattern: pattern.name, params: parameters.json,
            status: .running, createdAt: createdAt, startedAt: createdAt,
            durationMs: context.clock.elapsedMs(), realMs: realMs,
            progress: .init(completed: progress.completed, total: progress.total))
    }

    /// `snapshot().json(links:)` serialized: for an ended run, the bytes made once when it ended.
    public func snapshotJSON() -> [UInt8] {
        if let json = published.withLock({ $0?.json }) { return json }
        return snapshot().json(links: links).serializedBytes()
    }

    public var hasEnded: Bool { finished.isFired }

    /// The final record of how the execution ended.
    func finalRecord(of execution: RunExecution, at date: Date) -> RunRecord {
        let progress = context.recorder.progress
        var result = execution.outcome?.result ?? [:]
        let dropped = context.recorder.eventsDropped
        if dropped > 0 { result["events_dropped"] = .int(dropped) }
        let record = RunRecord(
            id: id, pattern: pattern.name, params: parameters.json, status: execution.status,
            createdAt: createdAt, startedAt: createdAt, finishedAt: date, durationMs: context.clock.elapsedMs(),
            realMs: realMs, progress: .init(completed: progress.completed, total: progress.total),
            result: execution.outcome == nil ? nil : .object(result),
            checks: execution.outcome?.checks.map(\.json) ?? [], timeline: execution.timeline.json,
            error: execution.error)
        return record
    }

    /// Publishes the final record and its JSON, fires `finished` (a `?wait=` caller answers
    /// at once with those bytes), then appends `run.finished`, whose data is the same record
    /// plus `t_ms`, and closes the log. The timeline, most of a large run's bytes, is already
    /// serialized (`Timeline.json`): both copy it.
    ///
    /// Both are written from the record's members: the event's `t_ms` is written among them
    /// (`writeObject(_:extra:)`), not inserted into a copy of the record's dictionary first.
    func publish(_ record: RunRecord) {
        let members = record.json(links: links).objectValue ?? [:]
        var bytes: [UInt8] = []
        // Room for the timeline (already bytes) and the rest: a large run's JSON is written
        // without growing (and copying) the array on the way to its answer.
        if case .serialized(let timeline) = record.timeline { bytes.reserveCapacity(timeline.bytes.count + 4_096) }
        JSONValue.writeObject(members, into: &bytes)
        published.withLock { $0 = (record, bytes) }
        finished.fire()
        var data: [UInt8] = []
        data.reserveCapacity(bytes.count + 24)
        JSONValue.writeObject(members, extra: ("t_ms", .milliseconds(context.clock.elapsedMs())), into: &data)
        log.finish(with: RunEvent(name: "run.finished", serializedData: SerializedJSON(bytes: data)))
    }

    /// Runs the pattern until it ends or cancellation is requested, whichever is first.
    func execute() async -> RunExecution {
        await withTaskGroup(of: RunExecution?.self) { group in
            group.addTask { await self.executePattern() }
            group.addTask {
                await self.cancelRequested.wait()
                return nil
            }
            var execution: RunExecution?
            for await value in group {
                group.cancelAll()
                if let value { execution = value }
            }
            guard let execution else { preconditionFailure("the pattern's child task always returns a value") }
            return execution
        }
    }

    /// The pattern on the run's clock: on the run threads in real time, or on a thread of
    /// its own in virtual time, whose bound is `maxVirtualDuration`, while the real time it
    /// may take is bounded by `maxPlannedDuration` (which bounds a real run's plan).
    private func executePattern() async -> RunExecution {
        guard let virtualClock else {
            return await PatternRunner.execute(pattern, parameters: parameters, context: context)
        }
        let limits = context.limits
        return await VirtualRun.execute(
            pattern, parameters: parameters, context: context, clock: virtualClock,
            timeLimit: limits.maxVirtualDuration, realTimeLimit: limits.maxPlannedDuration
        ).execution
    }
}
