import Patterns
import Synchronization

/// The events of one run: append-only, replayable from any id, and fanned out to any number
/// of subscribers.
///
/// Invariants:
/// - ids are 1, 2, 3, ... in append order; an event is never changed or removed;
/// - subscribers hold no copy of the events, only a cursor into this log, so a slow
///   subscriber costs no memory and never slows `append` (which resumes waiters and returns);
/// - a live subscriber that has not received more than `maxLag` of the events appended
///   since it subscribed is told it overflowed (the HTTP layer then disconnects it; it can
///   come back with `Last-Event-ID`). Replaying what existed when it subscribed never
///   counts against it: a new subscriber to a long run is not slow, just early;
/// - after `finish`, no event is appended and every waiter is resumed.
public final class EventLog: RunEventSink, Sendable {
    private struct State {
        var events: [StoredEvent] = []
        var finished = false
        var waiters = WaiterSet()
        var observers: [UInt64: @Sendable () -> Void] = [:]
        var nextObserverID: UInt64 = 0
    }

    public let maxLag: Int
    private let state = Mutex(State())
    /// Fires when the log finishes: what a wait with a deadline waits on.
    private let finishedSignal = OneShotSignal()

    public init(maxLag: Int = 10_000) {
        self.maxLag = maxLag
    }

    /// Replays stored events (after a restart): the log starts finished with these.
    public init(finishedWith events: [StoredEvent]) {
        maxLag = Int.max
        state.withLock { state in
            state.events = events
            state.finished = true
        }
        finishedSignal.fire()
    }

    public func append(_ event: RunEvent) {
        append(CollectionOfOne((event.name, event.serializedData)), finishing: false)
    }

    /// Appends the terminal event and closes the log.
    public func finish(with event: RunEvent) {
        append(CollectionOfOne((event.name, event.serializedData)), finishing: true)
    }

    /// Appends `events` under one lock and wakes waiters and observers once: an event stream
    /// sends them in one pass (a `tick` and the `progress` it brings, one write per subscriber).
    public func append(contentsOf events: [RunEvent]) {
        append(events.map { ($0.name, $0.serializedData) }, finishing: false)
    }

    /// Appends named data (serialized before the lock is taken), then wakes waiters and
    /// observers once; `finishing` closes the log after them.
    private func append(_ entries: some Collection<(String, [UInt8])>, finishing: Bool) {
        guard !entries.isEmpty else { return }
        let (waiters, observers) = state.withLock { state -> ([CheckedContinuation<Void, Never>], [@Sendable () -> Void]) in
            guard !state.finished else { return ([], []) }
            for (name, data) in entries {
                state.events.append(StoredEvent(id: state.events.count + 1, name: name, data: data))
            }
            state.finished = finishing
            return (state.waiters.takeAll(), state.observers.isEmpty ? [] : Array(state.observers.values))
        }
        wake(waiters, observers, finished: finishing)
    }

    private func wake(_ waiters: [CheckedContinuation<Void, Never>], _ observers: [@Sendable () -> Void], finished: Bool) {
        for waiter in waiters { waiter.resume() }
        for observer in observers { observer() }
        if finished { finishedSignal.fire() }
    }

    /// Appends events copied from another instance's log of the same run, their ids and bytes
    /// unchanged, so this log serves the same frames as the owner's. Ids at or below `count`
    /// are skipped (a copy may be asked twice); a gap stops the copy there (the rest comes with
    /// the next). `run.finished` finishes the log. Returns how many were appended.
    @discardableResult
    public func replicate(_ events: some Sequence<StoredEvent>) -> Int {
        let (appended, waiters, observers, finished) = state.withLock { state in
            guard !state.finished else { return (0, [CheckedContinuation<Void, Never>](), [@Sendable () -> Void](), false) }
            var appended = 0
            for event in events where event.id > state.events.count {
                guard event.id == state.events.count + 1 else { break }
                state.events.append(event)
                appended += 1
                if event.name == "run.finished" {
                    state.finished = true
                    break
                }
            }
            guard appended > 0 else { return (0, [], [], false) }
            return (appended, state.waiters.takeAll(), Array(state.observers.values), state.finished)
        }
        wake(waiters, observers, finished: finished)
        return appended
    }

    /// Finishes a copied log whose run ended without a `run.finished` this log can get (the
    /// run was deleted, or its stored events end without one): its streams end.
    public func close() {
        let (waiters, observers) = state.withLock { state -> ([CheckedContinuation<Void, Never>], [@Sendable () -> Void]) in
            guard !state.finished else { return ([], []) }
            state.finished = true
            return (state.waiters.takeAll(), Array(state.observers.values))
        }
        wake(waiters, observers, finished: true)
    }

    /// Calls `observer` after every append from now on (and after the final one), on the
    /// appending thread, outside the log's lock: it must be quick and must not block (an event
    /// fan-out sets a flag and wakes its own task). Returns the id `removeObserver` takes.
    ///
    /// Appends come from inside the run's `RunRecorder` lock (every task's end and every
    /// `progress` event are appended with it held, to keep their order), so an observer must
    /// not call back into the recorder or into anything that reads it (`LiveRun.snapshot()`
    /// reads its progress): that would deadlock the run.
    public func addObserver(_ observer: @escaping @Sendable () -> Void) -> UInt64 {
        state.withLock { state in
            state.nextObserverID += 1
            state.observers[state.nextObserverID] = observer
            return state.nextObserverID
        }
    }

    public func removeObserver(_ id: UInt64) {
        _ = state.withLock { $0.observers.removeValue(forKey: id) }
    }

    public var isFinished: Bool { state.withLock { $0.finished } }
    public var count: Int { state.withLock { $0.events.count } }

    /// Every event, for the store once the run ended.
    public var allEvents: [StoredEvent] { state.withLock { $0.events } }

    /// Events with ids after `after`, at most `limit` of them, and whether the log is done.
    public func events(after: Int, limit: Int = .max) -> (events: [StoredEvent], finished: Bool, lastID: Int) {
        state.withLock { state in
            let start = min(max(after, 0), state.events.count)
            let end = start + min(limit, state.events.count - start)
            return (Array(state.events[start..<end]), state.finished, state.events.count)
        }
    }

    /// Returns once the log is finished (or the task is cancelled).
    public func waitUntilFinished() async {
        await finishedSignal.wait()
    }

    /// Waits at most `timeout` for the log to finish; returns whether it did.
    public func waitUntilFinished(timeout: Duration) async -> Bool {
        await finishedSignal.wait(timeout: timeout)
    }

    public func subscribe(after: Int = 0) -> EventSubscription {
        EventSubscription(log: self, after: after)
    }

    /// Suspends until there is an event after `after`, the log is finished, or the task is
    /// cancelled.
    func waitForEvent(after: Int) async {
        let id = state.withLock { $0.waiters.makeID() }
        await WaiterSet.wait(
            id: id,
            register: { continuation in
                state.withLock { state in
                    guard state.events.count <= after, !state.finished else { return false }
                    return state.waiters.register(id, continuation)
                }
            },
            cancel: { self.state.withLock { $0.waiters.cancel(id) } },
            forget: { state.withLock { $0.waiters.forget(id) } })
    }
}

/// One subscriber's position in an `EventLog`. Owned by one consumer task.
public struct EventSubscription: Sendable {
    public enum Next: Sendable, Equatable {
        /// The next events, in id order (a batch, to spare wake-ups).
        case events([StoredEvent])
        /// The log is finished and everything was delivered.
        case end
        /// The subscriber fell more than `maxLag` events behind a live run.
        case overflowed
        /// The consumer task was cancelled.
        case cancelled
    }

    private let log: EventLog
    public private(set) var lastDeliveredID: Int
    /// The log's last id when the subscription began: the backlog it may replay at any pace.
    private let backlogEndID: Int

    init(log: EventLog, after: Int) {
        self.log = log
        self.lastDeliveredID = max(after, 0)
        self.backlogEndID = log.count
    }

    public mutating func next(batchLimit: Int = 256) async -> Next {
        while true {
            if Task.isCancelled { return .cancelled }
            let (events, finished, lastID) = log.events(after: lastDeliveredID, limit: batchLimit)
            if !finished && lastID - max(lastDeliveredID, backlogEndID) > log.maxLag { return .overflowed }
            if let last = events.last {
                lastDeliveredID = last.id
                return .events(events)
            }
            if finished { return .end }
            await log.waitForEvent(after: lastDeliveredID)
        }
    }
}
