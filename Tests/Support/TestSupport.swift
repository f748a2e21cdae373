import Patterns
import Synchronization

/// Collects a run's events in memory, in the order they were appended.
public final class CollectingSink: RunEventSink, Sendable {
    private let storage = Mutex<[RunEvent]>([])

    public init() {}

    public func append(_ event: RunEvent) {
        storage.withLock { $0.append(event) }
    }

    public var events: [RunEvent] { storage.withLock { $0 } }
    public var names: [String] { events.map(\.name) }
}
