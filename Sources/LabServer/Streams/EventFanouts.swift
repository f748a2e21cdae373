import MicroHTTP
import Runs
import Synchronization

/// The live fan-outs, one per event log that has streams open on it.
///
/// A fan-out closes itself when its last stream leaves; the next stream on that log gets a new
/// one (a closed fan-out found here is replaced, never waited for).
final class EventFanouts: Sendable {
    let retryInterval: Duration
    let heartbeatInterval: Duration
    private let fanouts = Mutex<[ObjectIdentifier: EventFanout]>([:])
    /// Offers refused because a stream was full, since start: each is a subscriber skipped,
    /// to catch up from the log once its stream drains.
    let streamsSkipped = Atomic<Int>(0)
    /// The subscribers of every fan-out not yet freed: an ended stream's must be (tests).
    let tally = SubscriberTally()

    init(retryInterval: Duration, heartbeatInterval: Duration) {
        self.retryInterval = retryInterval
        self.heartbeatInterval = heartbeatInterval
    }

    /// Hands `writer` to the log's fan-out, which serves it from event `after` on and ends it.
    func attach(_ writer: StreamWriter, log: EventLog, after: Int) {
        while !fanout(for: log).attach(writer, after: after) {}
    }

    private func fanout(for log: EventLog) -> EventFanout {
        let key = ObjectIdentifier(log)
        let (fanout, isNew) = fanouts.withLock { fanouts -> (EventFanout, Bool) in
            if let existing = fanouts[key], !existing.isClosed { return (existing, false) }
            let created = EventFanout(
                log: log, retryInterval: retryInterval, heartbeatInterval: heartbeatInterval, tally: tally,
                onSkip: { [weak self] in self?.streamsSkipped.wrappingAdd(1, ordering: .relaxed) })
            fanouts[key] = created
            return (created, true)
        }
        if isNew { fanout.start { [weak self] closed in self?.remove(closed) } }
        return fanout
    }

    private func remove(_ fanout: EventFanout) {
        fanouts.withLock { fanouts in
            let key = ObjectIdentifier(fanout.log)
            if fanouts[key] === fanout { fanouts[key] = nil }
        }
    }

    /// Fan-outs running now (for tests and metrics).
    var count: Int { fanouts.withLock { $0.count } }
}

/// How many fan-out subscribers exist: one is freed when its stream has ended and its
/// connection closed, so a count that stays up is a leak.
final class SubscriberTally: Sendable {
    let alive = Atomic<Int>(0)
}
