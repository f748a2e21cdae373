/// What a stream reads a run's events from: the log itself (`EventSubscription`) or a
/// wrapper over it that decides when each event goes out (`PacedSubscription`).
public protocol EventFeed: Sendable {
    /// The next batch (in id order), the end, an overflow or a cancellation.
    mutating func next(batchLimit: Int) async -> EventSubscription.Next
    /// The last id handed out by `next`.
    var lastDeliveredID: Int { get }
}

extension EventSubscription: EventFeed {}
