import LabJSON
import Patterns

/// A run's events played at the pace they happened: an event whose `t_ms` is T goes out
/// `(T - T0) * pace` after the stream's first event (at `T0`) went out, or when it is
/// appended if that is later. `pace` 1 plays a run at the speed of its own clock, 0.1 ten
/// times faster, 2 at half speed. Meant for a `clock: virtual` run, whose events all exist
/// within a moment of its start: a viewer can then watch it unfold. It works on any run
/// (a real one replayed, or followed live: pacing never delivers an event before it exists).
///
/// A separable piece: it wraps any subscription of the log and knows nothing of HTTP, so
/// a stream handler picks it when a client asks for a pace. An event without `t_ms` goes
/// out at once. A paced subscriber of a live run still counts against the log's `maxLag`.
public struct PacedSubscription: EventFeed {
    private var source: EventSubscription
    private let pace: Double
    /// Real time, as offsets from this clock's origin (the moment the stream began).
    private let clock: RunClock
    /// Fetched from the source, not yet delivered.
    private var pending: ArraySlice<StoredEvent> = []
    /// The first event's `t_ms` and when (on `clock`) it was due: the pace's origin.
    private var origin: (eventMs: Double, at: Duration)?
    public private(set) var lastDeliveredID: Int

    public init(_ source: EventSubscription, pace: Double, clock: RunClock = .continuous()) {
        precondition(pace > 0 && pace.isFinite, "a pace is a positive factor")
        self.source = source
        self.pace = pace
        self.clock = clock
        lastDeliveredID = source.lastDeliveredID
    }

    public mutating func next(batchLimit: Int = 256) async -> EventSubscription.Next {
        if pending.isEmpty {
            switch await source.next(batchLimit: batchLimit) {
            case .events(let events): pending = events[...]
            case let other: return other
            }
        }
        guard let first = pending.first else { return .events([]) }
        let due = dueTime(of: first)
        if due > clock.now() {
            do {
                try await clock.sleep(until: due)
            } catch {
                return .cancelled
            }
        }
        var batch: [StoredEvent] = []
        let now = clock.now()
        while let event = pending.first, batch.count < batchLimit, dueTime(of: event) <= now {
            batch.append(pending.removeFirst())
        }
        if let last = batch.last { lastDeliveredID = last.id }
        return .events(batch)
    }

    /// When `event` is due on `clock`; the first event seen sets the origin (now).
    private mutating func dueTime(of event: StoredEvent) -> Duration {
        guard let eventMs = Self.eventTime(event) else { return .zero }
        guard let origin else {
            let now = clock.now()
            origin = (eventMs, now)
            return now
        }
        let offsetMs = max(0, eventMs - origin.eventMs) * pace
        return origin.at + .nanoseconds(Int64((offsetMs * 1_000_000).rounded()))
    }

    /// The event's `t_ms`, if it has one.
    static func eventTime(_ event: StoredEvent) -> Double? {
        (try? JSONValue.parse(event.data))?["t_ms"]?.doubleValue
    }
}
