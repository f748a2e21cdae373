import Foundation
import Patterns

/// The bounds of the Runs layer (DESIGN.md section 5); every one a `serve` flag.
public struct RunsConfiguration: Sendable {
    public var limits: PatternLimits
    public var maxConcurrentRuns: Int
    /// Finished runs kept in memory (with their event logs); older ones are read from the store.
    public var keepFinishedInMemory: Int
    /// Per-task events kept per run; aggregates count past it.
    public var eventCap: Int
    /// A live subscriber that has not received this many of the events appended since it
    /// subscribed is disconnected. Above the default event cap, so a healthy client is never
    /// cut off by a burst; a client that stops reading is closed by the connection timeout.
    public var subscriberMaxLag: Int
    public var retryAfterSeconds: Int
    /// Threads the runs execute on, apart from the pool that answers requests.
    public var runThreads: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)

    public init(
        limits: PatternLimits = .defaults, maxConcurrentRuns: Int = 64, keepFinishedInMemory: Int = 1_000,
        eventCap: Int = 40_000, subscriberMaxLag: Int = 100_000, retryAfterSeconds: Int = 1
    ) {
        self.limits = limits
        self.maxConcurrentRuns = maxConcurrentRuns
        self.keepFinishedInMemory = keepFinishedInMemory
        self.eventCap = eventCap
        self.subscriberMaxLag = subscriberMaxLag
        self.retryAfterSeconds = retryAfterSeconds
    }
}
