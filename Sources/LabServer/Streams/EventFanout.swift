import MicroHTTP
import Patterns
import Runs
import Synchronization

/// Delivers one run's events to every event stream open on it: one pass per batch of appended
/// events writes the batch's frames, built once, into every subscriber that is caught up.
///
/// Before this, each subscriber was a task woken by every event, which then took the log's
/// lock, copied the events, formatted its own frames and wrote them: about 10 µs of CPU per
/// delivered frame, and 10,000 wake-ups per event with 10,000 subscribers. Now an append costs
/// the run one flag and at most one wake-up, whatever the number of subscribers.
///
/// Invariants:
/// - A subscriber gets every event after its resume point exactly once, in id order, and its
///   stream ends right after `run.finished` (or a notice saying why it was cut).
/// - Only the fan-out task touches a subscriber's cursor and phase; everyone else (a stream that
///   joins, drains or is cancelled, an append, the heartbeat timer) leaves a note in the inbox
///   and wakes the task. So there is one writer per subscriber and frames never interleave.
/// - A subscriber whose stream is over its high-water mark is skipped: its cursor stays, it
///   costs nothing per event, and it catches up from the log when its stream drains (the log is
///   shared, so lagging holds no copy of anything). One more than `maxLag` events behind a live
///   run, it is cut with a notice (EventSource reconnects with `Last-Event-ID`).
/// - The task exits once it has no subscriber and none is joining; a stream that arrives after
///   that gets a new fan-out (`EventFanouts.attach` retries).
/// - No task waits for a stream: the fan-out owns it (`StreamWriter.detach`) and finishes it;
///   the client leaving and shutdown reach the fan-out as a note (`cancelled`).
final class EventFanout: Sendable {
    let log: EventLog
    let retryMilliseconds: Int
    let heartbeatInterval: Duration
    /// Told each time a full stream is skipped.
    let onSkip: @Sendable () -> Void
    /// Counts the subscribers alive (`EventFanouts.tally`, one for all fan-outs).
    let tally: SubscriberTally
    private let inbox = Mutex(Inbox())

    struct Inbox {
        var joining: [Subscriber] = []
        var drained: [Subscriber] = []
        var cancelled: [Subscriber] = []
        var appended = false
        var heartbeatDue = false
        var waiter: CheckedContinuation<Void, Never>?
        var closed = false
        /// Subscribers joined and not yet ended (the task's own list lags the inbox).
        var members = 0

        var hasWork: Bool {
            appended || heartbeatDue || !joining.isEmpty || !drained.isEmpty || !cancelled.isEmpty
        }
    }

    init(
        log: EventLog, retryInterval: Duration, heartbeatInterval: Duration, tally: SubscriberTally = SubscriberTally(),
        onSkip: @escaping @Sendable () -> Void = {}
    ) {
        self.tally = tally
        self.log = log
        self.onSkip = onSkip
        retryMilliseconds = SSEFrames.milliseconds(retryInterval)
        self.heartbeatInterval = heartbeatInterval
    }

    /// Starts the fan-out's task. It ends by itself when the last subscriber has left.
    func start(whenEmpty leave: @escaping @Sendable (EventFanout) -> Void) {
        Task {
            var loop = FanoutLoop(fanout: self, leave: leave)
            await loop.run()
        }
    }

    /// Serves `writer` from event `after` on: the fan-out owns the stream from here and
    /// finishes it (the run ended, the client left or was cut, shutdown); nothing waits for it.
    /// False when this fan-out had already closed: ask for a new one, whose handlers replace
    /// this one's on the writer.
    func attach(_ writer: StreamWriter, after: Int) -> Bool {
        let subscriber = Subscriber(writer: writer, after: after, backlogEnd: log.count, tally: tally)
        // Both handlers before joining, so the task never sees a subscriber without them. The
        // subscriber is held strongly: the writer lets go of its handlers when it closes (when
        // libmicrohttpd releases the response, however the stream ended), which ends the cycle
        // subscriber -> writer -> handler (`everyEndedStream_freesItsSubscriber`); a subscriber that did not join (a closed fan-out) has its handlers replaced
        // by the next fan-out's. A weak reference would give every subscriber a side table, and
        // each retain and release of it in the fan-out's passes the slow path (3.7 % of the
        // server's CPU at 10,000 subscribers).
        writer.setDrainHandler { [weak self, subscriber] in
            guard let self else { return }
            self.post { $0.drained.append(subscriber) }
        }
        writer.detach { [weak self, subscriber] in
            guard let self else { return }
            self.post { $0.cancelled.append(subscriber) }
        }
        let joined = inbox.withLock { inbox -> Bool in
            guard !inbox.closed else { return false }
            inbox.joining.append(subscriber)
            inbox.members += 1
            return true
        }
        if joined { signal() }
        return joined
    }

    /// The log grew (called by the log, on the appending thread).
    func appended() {
        post { $0.appended = true }
    }

    func heartbeatDue() {
        post { $0.heartbeatDue = true }
    }

    private func post(_ note: (inout Inbox) -> Void) {
        let waiter = inbox.withLock { inbox -> CheckedContinuation<Void, Never>? in
            note(&inbox)
            defer { inbox.waiter = nil }
            return inbox.waiter
        }
        waiter?.resume()
    }

    private func signal() { post { _ in } }

    // MARK: for the task

    /// Takes what was posted; suspends first when nothing was.
    func takeInbox() async -> Inbox {
        while true {
            if let work = inbox.withLock({ inbox -> Inbox? in
                guard inbox.hasWork else { return nil }
                var taken = Inbox()
                swap(&taken.joining, &inbox.joining)
                swap(&taken.drained, &inbox.drained)
                swap(&taken.cancelled, &inbox.cancelled)
                taken.appended = inbox.appended
                taken.heartbeatDue = inbox.heartbeatDue
                inbox.appended = false
                inbox.heartbeatDue = false
                return taken
            }) {
                return work
            }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = inbox.withLock { inbox -> Bool in
                    if inbox.hasWork { return true }
                    inbox.waiter = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        }
    }

    var isClosed: Bool { inbox.withLock { $0.closed } }

    /// `count` subscribers ended.
    func membersLeft(_ count: Int) {
        inbox.withLock { $0.members -= count }
    }

    /// Closes the fan-out for good when it has no subscriber and none is joining (a joining one
    /// is already a member); returns whether it did.
    func closeIfIdle() -> Bool {
        inbox.withLock { inbox in
            guard inbox.members == 0 else { return false }
            inbox.closed = true
            return true
        }
    }
}
