import Patterns
import Synchronization

/// Collects a run's events in memory, in the order they were appended, and which were
/// appended together (`append(contentsOf:)`).
public final class CollectingSink: RunEventSink, Sendable {
    private let storage = Mutex<(events: [RunEvent], appends: [[String]])>(([], []))

    public init() {}

    public func append(_ event: RunEvent) {
        storage.withLock {
            $0.events.append(event)
            $0.appends.append([event.name])
        }
    }

    public func append(contentsOf events: [RunEvent]) {
        storage.withLock {
            $0.events.append(contentsOf: events)
            $0.appends.append(events.map(\.name))
        }
    }

    public var events: [RunEvent] { storage.withLock { $0.events } }
    public var names: [String] { events.map(\.name) }
    /// The names of the events of each append call, in order.
    public var appends: [[String]] { storage.withLock { $0.appends } }
}
