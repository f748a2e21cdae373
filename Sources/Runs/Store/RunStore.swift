import Foundation
import Patterns

/// Which runs `GET /runs` asks for: newest first, optionally filtered, after a cursor.
public struct RunQuery: Sendable, Hashable {
    public var pattern: String?
    public var status: RunStatus?
    public var limit: Int
    /// The id of the last run of the previous page: the next page holds older runs only.
    public var before: String?

    public init(pattern: String? = nil, status: RunStatus? = nil, limit: Int = 50, before: String? = nil) {
        self.pattern = pattern
        self.status = status
        self.limit = limit
        self.before = before
    }
}

/// One page of runs and the cursor of the next, nil on the last page.
public struct RunPage: Sendable {
    public let runs: [RunRecord]
    public let nextCursor: String?

    public init(runs: [RunRecord], nextCursor: String?) {
        self.runs = runs
        self.nextCursor = nextCursor
    }
}

/// Where runs live beyond the registry's memory: in memory, SQLite or PostgreSQL, behind this
/// one protocol (the conformance suite in RunsTests runs the same tests against each).
///
/// Writes are fire-and-forget for the caller (a run never waits for the disk or the network);
/// `flush` waits until everything written so far is durable.
public protocol RunStore: Sendable {
    /// Records a run (at start, `running`; at end, with result, checks and timeline) and,
    /// once it ended, its events. A later save of the same id replaces the earlier one.
    func save(_ record: RunRecord, events: [StoredEvent]?)
    func record(id: String) async throws -> RunRecord?
    /// The events of a run whose events were stored (once it ended); nil for an unknown run
    /// or one whose events are not stored yet.
    func events(runID: String) async throws -> [StoredEvent]?
    func list(_ query: RunQuery) async throws -> RunPage
    /// Marks runs a dead process left `running` or `queued` as `interrupted`, each with a
    /// `run.finished` event whose run carries `links`; returns how many. Called at start,
    /// before any run of this process starts.
    func markInterrupted(at date: Date, links: RunLinks) async throws -> Int
    /// Waits until every save so far is durable (or its write failed: `isHealthy` says so).
    func flush() async
    /// The store's service loop (its writer, and for a shared store its connections) until
    /// `shutdown()`: run it as a child task of the server.
    func run() async
    /// Writes what is pending (one last attempt) and ends `run()`.
    func shutdown() async
    /// False while the store is failing: its last write failed, or it lost its database.
    /// The server keeps serving runs from memory; `/healthz` says `"store":"failing"`.
    var isHealthy: Bool { get }
}

extension RunStore {
    /// `markInterrupted(at:links:)` for runs served nowhere.
    public func markInterrupted(at date: Date) async throws -> Int {
        try await markInterrupted(at: date, links: .none)
    }
}

/// What a store's writer has done, for metrics, health and tests.
public struct RunStoreStatistics: Sendable, Hashable {
    public var runsWritten = 0
    /// Transactions (batches of saves) committed.
    public var batchesWritten = 0
    public var failedWrites = 0
    /// Unsaved runs dropped because more than the buffer's bound waited (writes failing or lagging).
    public var droppedRuns = 0
    public var prunedRuns = 0
    /// Saves not yet committed.
    public var pendingRuns = 0
    /// Why the last write failed; nil once a write succeeds again.
    public var lastWriteError: RunStoreError?

    public init() {}
}

/// How much history a store keeps: the newest `keepRuns` runs, and optionally none older than
/// `keepDays`. Finished runs only: a store never prunes a run that is still in flight.
public struct RunRetention: Sendable, Hashable {
    public var keepRuns: Int
    /// Runs created longer ago than this many days are deleted; nil keeps them.
    public var keepDays: Int?

    public init(keepRuns: Int = 10_000, keepDays: Int? = nil) {
        self.keepRuns = keepRuns
        self.keepDays = keepDays
    }

    /// The run id below which runs are older than `keepDays` at `now` (ids start with their
    /// creation time), or nil without `keepDays`.
    public func cutoffID(now: Date) -> String? {
        keepDays.map { days in
            let cutoff = now.addingTimeInterval(-Double(days) * 86_400)
            return RunIDGenerator.encode(millis: UInt64(max(0, cutoff.timeIntervalSince1970 * 1000)), high: 0, low: 0)
        }
    }
}
