import MicroHTTP
import Patterns
import Runs

/// The task of an `EventFanout`: everything that touches its subscribers happens here, one pass
/// per wake-up (see `EventFanout` for the invariants).
struct FanoutLoop {
    /// Events formatted and offered at once: bounds what one offer can add to a stream's buffer
    /// beyond its high-water mark.
    static let batchLimit = 256

    let fanout: EventFanout
    let leave: @Sendable (EventFanout) -> Void
    private var subscribers: [EventFanout.Subscriber] = []
    /// Every `.current` subscriber has every event up to here.
    private var shared: Int
    private var heartbeatTimer: UInt64?

    init(fanout: EventFanout, leave: @escaping @Sendable (EventFanout) -> Void) {
        self.fanout = fanout
        self.leave = leave
        shared = fanout.log.count
    }

    private var log: EventLog { fanout.log }

    mutating func run() async {
        let observer = log.addObserver { [fanout] in fanout.appended() }
        scheduleHeartbeat()
        while true {
            let inbox = await fanout.takeInbox()
            pass(inbox)
            if subscribers.isEmpty, fanout.closeIfIdle() { break }
        }
        log.removeObserver(observer)
        if let heartbeatTimer { TimerQueue.shared.cancel(timer: heartbeatTimer) }
        leave(fanout)
    }

    private mutating func pass(_ inbox: EventFanout.Inbox) {
        // Joining ones first, even one cancelled before it was served: it is a member until the
        // end of the pass removes it with the others that ended, and so counted as gone.
        subscribers.append(contentsOf: inbox.joining)
        for subscriber in inbox.cancelled where subscriber.phase != .ended {
            _ = subscriber.writer.offer(SSEFrames.shutdown(lastEventID: subscriber.cursor), force: true)
            subscriber.end()
        }
        for subscriber in inbox.drained { subscriber.isFull = false }
        for subscriber in inbox.joining where subscriber.phase != .ended && subscriber.cursor == shared {
            subscriber.phase = .current
        }
        deliverNewEvents()
        for subscriber in subscribers where subscriber.phase == .behind && !subscriber.isFull {
            catchUp(subscriber)
        }
        endFinishedStreams()
        if inbox.heartbeatDue {
            for subscriber in subscribers where subscriber.phase != .ended && !subscriber.isFull {
                offer(SSEFrames.heartbeat, to: subscriber)
            }
            scheduleHeartbeat()
        }
        let before = subscribers.count
        subscribers.removeAll { $0.phase == .ended }
        fanout.membersLeft(before - subscribers.count)
    }

    /// Moves the shared cursor to the end of the log, a bounded batch at a time, each batch
    /// formatted once and offered to every current subscriber.
    private mutating func deliverNewEvents() {
        while true {
            let (events, _, _) = log.events(after: shared, limit: Self.batchLimit)
            guard let last = events.last else { return }
            let frames = SSEFrames.frames(events)
            for subscriber in subscribers where subscriber.phase == .current {
                let bytes = subscriber.retryPending
                    ? SSEFrames.frames(events, retryMilliseconds: fanout.retryMilliseconds) : frames
                switch offer(bytes, to: subscriber) {
                case .written: subscriber.cursor = last.id
                case .full: subscriber.phase = .behind
                case .closed: break
                }
            }
            shared = last.id
        }
    }

    /// Replays from a subscriber's own cursor up to the shared one, until its stream is full;
    /// cuts it when it is too far behind a live run.
    private func catchUp(_ subscriber: EventFanout.Subscriber) {
        while subscriber.phase == .behind, !subscriber.isFull, subscriber.cursor < shared {
            if !log.isFinished, shared - max(subscriber.cursor, subscriber.backlogEnd) > log.maxLag {
                _ = subscriber.writer.offer(SSEFrames.overflowNotice(maxLag: log.maxLag), force: true)
                subscriber.end()
                return
            }
            let (events, _, _) = log.events(after: subscriber.cursor, limit: min(Self.batchLimit, shared - subscriber.cursor))
            guard let last = events.last else { return }
            let retry = subscriber.retryPending ? fanout.retryMilliseconds : nil
            guard offer(SSEFrames.frames(events, retryMilliseconds: retry), to: subscriber) == .written else { return }
            subscriber.cursor = last.id
        }
        if subscriber.phase == .behind, subscriber.cursor == shared { subscriber.phase = .current }
    }

    /// Once the log is finished, a subscriber that has its last event is done.
    private func endFinishedStreams() {
        guard log.isFinished, shared == log.count else { return }
        for subscriber in subscribers where subscriber.phase != .ended && subscriber.cursor >= shared {
            subscriber.end()
        }
    }

    @discardableResult
    private func offer(_ bytes: [UInt8], to subscriber: EventFanout.Subscriber) -> StreamWriter.OfferOutcome {
        let outcome = subscriber.writer.offer(bytes)
        switch outcome {
        case .written:
            if bytes.first != UInt8(ascii: ":") { subscriber.retryPending = false }
        case .full:
            subscriber.isFull = true
            fanout.onSkip()
        case .closed:
            subscriber.end()
        }
        return outcome
    }

    private mutating func scheduleHeartbeat() {
        let fanout = fanout
        heartbeatTimer = TimerQueue.shared.schedule(at: .now + fanout.heartbeatInterval) { fanout.heartbeatDue() }
    }
}
