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

/// Where runs live beyond the registry's memory. Writes are fire-and-forget for the caller
/// (a run never waits for the disk); `flush` waits until everything written so far is durable.
public protocol RunStore: Sendable {
    /// Records a run (at start, `running`; at end, with result, checks and timeline) and,
    /// once it ended, its events. A later save of the same id replaces the earlier one.
    func save(_ record: RunRecord, events: [StoredEvent]?)
    func record(id: String) async throws -> RunRecord?
    func events(runID: String) async throws -> [StoredEvent]?
    func list(_ query: RunQuery) async throws -> RunPage
    /// Marks runs a dead process left `running` or `queued` as `interrupted`, each with a
    /// `run.finished` event whose run carries `links`; returns how many.
    func markInterrupted(at date: Date, links: RunLinks) async throws -> Int
    /// Waits until every save so far is durable.
    func flush() async
}

extension RunStore {
    /// `markInterrupted(at:links:)` for runs served nowhere.
    public func markInterrupted(at date: Date) async throws -> Int {
        try await markInterrupted(at: date, links: .none)
    }
}
