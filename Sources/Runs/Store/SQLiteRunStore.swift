import Foundation
import GRDB
import Logging
import Patterns

/// The run store on SQLite (through GRDB): run history that survives restarts.
///
/// A file path opens a `DatabasePool` in WAL mode (readers never wait for the writer);
/// `":memory:"` opens an in-memory database that lives as long as the store.
///
/// Writes never block the caller: `save` puts the run in a buffer and returns. One writer
/// drains the buffer, one transaction per batch, keeping only the last save of each run.
/// Reads look in the buffer first, so a run saved a moment ago is never missing.
///
/// Lifecycle, for the server:
/// 1. `let store = try SQLiteRunStore(path:)` (throws `RunStoreError` for a newer, corrupt,
///    read-only or unopenable file: print it and exit non-zero);
/// 2. `try await store.markInterrupted(at: Date())`, before any run starts;
/// 3. run `store.run()` (the writer loop) as a child task next to `registry.run()`;
/// 4. at shutdown, `await registry.shutdown()` (its runs are saved and flushed), then
///    `await store.shutdown()`: the writer drains what is left and `run()` returns.
///
/// Without a running `run()` nothing is lost: `flush` and `shutdown` write what is pending
/// themselves. A write that fails is logged and kept for the next attempt (with backoff, at
/// most `maxPendingRuns` kept); `lastWriteError` says the store is failing until a write succeeds.
public final class SQLiteRunStore: RunStore {
    /// How much history the store keeps. Pruning runs after each batch, oldest first.
    public typealias Retention = RunRetention

    /// What the writer has done, for metrics and health.
    public typealias Statistics = RunStoreStatistics

    /// The database file, or `":memory:"`.
    public let path: String
    public let retention: Retention
    let database: any DatabaseWriter
    let buffer: WriteBuffer
    let logger: Logger
    let now: @Sendable () -> Date
    /// How long the writer lets saves gather after the first one before it writes them (a
    /// group commit). Every transaction pays for itself (SQLite's commit, the pruning queries):
    /// under 256 clients each running a 100 ms run, 2,500 runs/s, a window of 20 ms took the
    /// server's CPU down by a quarter (453-653 ticks over 8 s without, 426-491 with; 5 ms
    /// 466-488). Reads see a run from the buffer meanwhile; `flush` and `shutdown` do not wait.
    let batchWindow: Duration
    public static let defaultBatchWindow = Duration.milliseconds(20)
    /// Fires when a stop is requested, cutting the writer's backoff short.
    let stopRequested = OneShotSignal()
    let writerEnded = OneShotSignal()

    /// Opens (creating it and its folder if need be) the store at `path`, or `":memory:"`.
    public convenience init(
        path: String, retention: Retention = Retention(), maxPendingRuns: Int = 2_000,
        logger: Logger = Logger(label: "store"), now: @escaping @Sendable () -> Date = { Date() },
        batchWindow: Duration = SQLiteRunStore.defaultBatchWindow
    ) throws(RunStoreError) {
        try self.init(
            path: path, retention: retention, maxPendingRuns: maxPendingRuns, logger: logger, now: now,
            readOnly: false, batchWindow: batchWindow)
    }

    /// `readOnly` opens every connection read-only, as a read-only file does for a non-root user.
    init(
        path: String, retention: Retention, maxPendingRuns: Int, logger: Logger,
        now: @escaping @Sendable () -> Date, readOnly: Bool, batchWindow: Duration = SQLiteRunStore.defaultBatchWindow
    ) throws(RunStoreError) {
        self.path = path
        self.batchWindow = batchWindow
        self.retention = retention
        self.logger = logger
        self.now = now
        buffer = WriteBuffer(maxPendingRuns: maxPendingRuns)
        database = try Self.openDatabase(path: path, readOnly: readOnly)
    }

    // MARK: RunStore

    public func save(_ record: RunRecord, events: [StoredEvent]?) {
        buffer.enqueue(PendingSave(record: record, events: events))
    }

    public func record(id: String) async throws -> RunRecord? {
        if let pending = buffer.lookup(id) { return pending.record }
        return try await reading { db in
            try Row.fetchOne(db, sql: "SELECT \(RunRow.selection) FROM run WHERE id = ?", arguments: [id])
                .map(RunRow.record(from:))
        }
    }

    public func events(runID: String) async throws -> [StoredEvent]? {
        let pending = buffer.lookup(runID)
        if let events = pending?.events { return events }
        return try await reading { db -> [StoredEvent]? in
            // A run whose events were never stored has none yet: nil, as for an unknown run.
            guard try Int.fetchOne(db, sql: "SELECT event_count FROM run WHERE id = ?", arguments: [runID]) != nil
            else { return nil }
            guard let packed = try Data.fetchOne(db, sql: "SELECT data FROM run_events WHERE run_id = ?", arguments: [runID])
            else { return [] }
            guard let events = packed.withUnsafeBytes({ EventPack.unpack($0) }) else {
                throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "run \(runID) holds events this build cannot read")
            }
            return events
        }
    }

    /// Newest first by id. Stable under inserts: new runs get larger ids than any cursor, so
    /// a page after `before` is the same whenever it is read (bar runs pruned meanwhile).
    public func list(_ query: RunQuery) async throws -> RunPage {
        // The buffer first: a run committed (and so gone from the buffer) while the file is
        // read is then in the file; the other order could miss it in both.
        let unsaved = buffer.snapshot().filter { id, _ in query.before.map { id < $0 } ?? true }
        let limit = max(0, query.limit)
        return try await reading { db in
            // Each unsaved run can hide at most one stored row (it may no longer match the
            // filters), so this many stored ids still fill the page.
            let storedIDs = try Self.storedIDs(db, query, limit: limit + 1 + unsaved.count)
            var ids = storedIDs.filter { unsaved[$0] == nil }
            ids += unsaved.values.filter { Self.matches($0.record, query) }.map(\.record.id)
            ids.sort(by: >)
            let pageIDs = Array(ids.prefix(limit))
            let stored = try Self.storedRuns(db, ids: pageIDs.filter { unsaved[$0] == nil })
            let runs = pageIDs.compactMap { unsaved[$0]?.record ?? stored[$0] }
            return RunPage(runs: runs, nextCursor: ids.count > limit ? pageIDs.last : nil)
        }
    }

    /// Ids of stored runs matching `query`, newest first, straight off an index.
    private static func storedIDs(_ db: Database, _ query: RunQuery, limit: Int) throws -> [String] {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let pattern = query.pattern {
            conditions.append("pattern = ?")
            arguments += [pattern]
        }
        if let status = query.status {
            conditions.append("status = ?")
            arguments += [status.rawValue]
        }
        if let before = query.before {
            conditions.append("id < ?")
            arguments += [before]
        }
        arguments += [limit]
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        return try String.fetchAll(db, sql: "SELECT id FROM run \(filter) ORDER BY id DESC LIMIT ?", arguments: arguments)
    }

    private static func storedRuns(_ db: Database, ids: [String]) throws -> [String: RunRecord] {
        guard !ids.isEmpty else { return [:] }
        let placeholders = Array(repeating: "?", count: ids.count).joined(separator: ", ")
        let sql = "SELECT \(RunRow.selection) FROM run WHERE id IN (\(placeholders))"
        var runs: [String: RunRecord] = [:]
        for row in try Row.fetchAll(db, sql: sql, arguments: StatementArguments(ids)) {
            let record = try RunRow.record(from: row)
            runs[record.id] = record
        }
        return runs
    }

    private static func matches(_ record: RunRecord, _ query: RunQuery) -> Bool {
        if let pattern = query.pattern, record.pattern != pattern { return false }
        if let status = query.status, record.status != status { return false }
        return true
    }

    /// Runs the read on a reader; a failure is thrown as a classified `RunStoreError`.
    private func reading<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await database.read(body)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw RunStoreError.classifying(error, path: path)
        }
    }

    // MARK: Health

    public var statistics: Statistics { buffer.statistics }

    /// Why the last write failed; nil when the last write succeeded (or none failed yet).
    public var lastWriteError: RunStoreError? { buffer.statistics.lastWriteError }

    public var isHealthy: Bool { !buffer.lastWriteFailed }
}
