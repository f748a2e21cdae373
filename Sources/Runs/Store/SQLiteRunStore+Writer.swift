import Foundation
import GRDB
import GRDBSQLite
import LabJSON
import Logging
import Patterns

/// The writer: the loop, flushing, shutdown, and what one batch does to the file.
extension SQLiteRunStore {
    /// The writer loop: drains the buffer (one transaction per batch) until `shutdown()`
    /// or cancellation, then writes what is left and returns. Run it once, as a child task
    /// of the server, next to the registry's `run()`.
    ///
    /// After a failed write it waits (0.5 s, doubling up to 30 s) before trying again, so a
    /// full disk is not hammered; `flush` and `shutdown` try again at once.
    public func run() async {
        guard buffer.writerStarted() else {
            logger.error("SQLiteRunStore.run() called while the writer already runs; ignored")
            return
        }
        await withTaskCancellationHandler {
            await writeUntilStopped()
        } onCancel: {
            requestStop()
        }
        buffer.writerStopped()
        writerEnded.fire()
    }

    private func writeUntilStopped() async {
        var failures = 0
        while true {
            await buffer.waitForWork()
            if batchWindow > .zero, !buffer.isStopRequested { await pause(for: batchWindow) }
            switch buffer.takeBatch() {
            case .empty:
                if buffer.isStopRequested { return }
            case .busy:
                await buffer.waitForAttemptEnd()
            case .batch(let batch):
                if await write(batch) {
                    failures = 0
                } else {
                    failures += 1
                    if buffer.isStopRequested { return }
                    await backOff(failures: failures)
                }
            }
        }
    }

    private func backOff(failures: Int) async {
        await pause(for: .milliseconds(min(30_000, 500 << min(failures - 1, 6))))
    }

    /// Sleeps for `delay`, or until a stop is requested.
    private func pause(for delay: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(for: delay) }
            group.addTask { await self.stopRequested.wait() }
            await group.next()
            group.cancelAll()
        }
    }

    private func requestStop() {
        buffer.requestStop()
        stopRequested.fire()
    }

    /// Waits until every save made before the call has been written, or its write has
    /// failed (then `lastWriteError` says why and the runs stay queued). Writes the batch
    /// itself when the writer loop is idle, backing off, or not running.
    public func flush() async {
        guard let target = buffer.flushTarget() else { return }
        while true {
            switch buffer.flushStep(toward: target) {
            case .done: return
            case .drain(let batch): await write(batch)
            case .wait: await buffer.waitForAttemptEnd()
            }
        }
    }

    /// Stops the writer loop after it wrote what is pending (one last attempt), and returns
    /// once it has; writes the pending saves itself if the loop is not running.
    public func shutdown() async {
        let writerRunning = buffer.requestStop()
        stopRequested.fire()
        if writerRunning { await writerEnded.wait() } else { await flush() }
        let statistics = buffer.statistics
        if statistics.pendingRuns > 0 {
            logger.error(
                "run store stopped with unsaved runs",
                metadata: [
                    "path": "\(path)", "unsaved": "\(statistics.pendingRuns)",
                    "error": "\(statistics.lastWriteError.map(String.init(describing:)) ?? "none")",
                ])
        } else {
            logger.info("run store flushed", metadata: ["path": "\(path)", "written": "\(statistics.runsWritten)"])
        }
    }

    /// Writes one batch in one transaction (pruning in the same one); logs a failure.
    /// Returns whether it committed.
    @discardableResult
    func write(_ batch: [PendingSave]) async -> Bool {
        let outcome = await commit(batch)
        let dropped: Int
        switch outcome {
        case .success(let pruned):
            buffer.recordPruned(pruned)
            dropped = buffer.finishBatch(committed: true, error: nil)
        case .failure(let error):
            dropped = buffer.finishBatch(committed: false, error: error)
            logger.error(
                "run store write failed; the runs stay queued for the next attempt",
                metadata: ["path": "\(path)", "runs": "\(batch.count)", "error": "\(error)"])
        }
        if dropped > 0 {
            logger.error(
                "run store is not keeping up; dropped the oldest unsaved runs",
                metadata: ["path": "\(path)", "dropped": "\(dropped)", "kept": "\(buffer.maxPendingRuns)"])
        }
        if case .success = outcome { return true } else { return false }
    }

    /// Runs the batch on GRDB's writer queue. Not cancellable on purpose: the batch of a
    /// cancelled writer (at shutdown) must still reach the file.
    private func commit(_ batch: [PendingSave]) async -> Result<Int, RunStoreError> {
        let retention = retention
        let cutoffID = retention.cutoffID(now: now())
        let path = path
        return await withCheckedContinuation { continuation in
            database.asyncWriteWithoutTransaction { db in
                do {
                    var pruned = 0
                    try db.inTransaction {
                        try Self.insert(batch, db)
                        pruned = try Self.prune(db, keepRuns: retention.keepRuns, before: cutoffID)
                        return .commit
                    }
                    continuation.resume(returning: .success(pruned))
                } catch {
                    continuation.resume(returning: .failure(RunStoreError.classifying(error, path: path)))
                }
            }
        }
    }

    static func insert(_ batch: [PendingSave], _ db: Database) throws {
        let upsert = try db.cachedStatement(sql: RunRow.upsertSQL)
        let replaceEvents = try db.cachedStatement(
            sql: "INSERT INTO run_events (run_id, data) VALUES (?, ?) ON CONFLICT (run_id) DO UPDATE SET data = excluded.data")
        for save in batch {
            try RunRow.upsert(save.record, eventCount: save.events?.count, with: upsert, db)
            guard let events = save.events else { continue }
            try insertPack(EventPack.pack(events), of: save.record.id, with: replaceEvents, db)
        }
    }

    /// Binds `runID` and `packed` to `statement` (`run_id`, `data`) without a copy (SQLITE_STATIC:
    /// the step that reads the bytes runs while they are borrowed) and steps it. A pack SQLite
    /// refuses (past its length limit, a gigabyte: the event caps keep a run's events well under
    /// it) fails the write with SQLite's reason rather than as a NULL in a NOT NULL column.
    static func insertPack(_ packed: [UInt8], of runID: String, with statement: Statement, _ db: Database) throws {
        let handle = statement.sqliteStatement
        var runID = runID
        let (bound, code) = runID.withUTF8 { run in
            packed.withUnsafeBytes { data -> (Int32, Int32) in
                _ = sqlite3_reset(handle)
                let bind = SQLiteBinder(handle, copying: false)
                bind.text(1, run)
                defer { _ = sqlite3_clear_bindings(handle) }
                let bound = bind.blob(2, data)
                return (bound, bound == SQLITE_OK ? sqlite3_step(handle) : bound)
            }
        }
        _ = sqlite3_reset(handle)
        guard bound == SQLITE_OK else {
            throw DatabaseError(
                resultCode: ResultCode(rawValue: bound),
                message: "the events of run \(runID) (\(packed.count) bytes packed): \(String(cString: sqlite3_errmsg(db.sqliteConnection)))")
        }
        try SQLiteBinder.expectDone(code, statement, db)
    }

    /// Deletes (with their events) the finished runs past the newest `keepRuns`, and those
    /// created before the run id `before` (ids start with their creation time). Returns how many.
    ///
    /// The oldest kept run is found from the old end: `count(*)` counts the cells of the
    /// smallest index page by page without decoding them, and the offset from the old end is
    /// only the runs past the limit (those this batch added, and older ones still in flight).
    /// Counted from the new end (`ORDER BY id DESC OFFSET keepRuns - 1`), every batch stepped
    /// through `keepRuns` index entries one by one, and through every entry of the table with a
    /// `--keep-runs` larger than the table. At 2,000 runs/s with 10,000 kept that query took
    /// 3.9 % of the server's CPU, the count and the short offset 2.4 % (the deletes themselves,
    /// the rest of pruning, 3-4.6 %). `prunesFromTheOldEnd_acrossBatches_countingRunsInFlight`.
    ///
    /// Its statements are prepared once per connection (`cachedStatement`): compiled at every
    /// batch, through GRDB's authorizer, they cost 1.5 % of the server's CPU at 2,500 runs/s.
    private static func prune(_ db: Database, keepRuns: Int, before cutoffID: String?) throws -> Int {
        var pruned = 0
        let keep = max(1, keepRuns)
        let total = try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM run")) ?? 0
        let oldestKept = total > keep
            ? try String.fetchOne(
                db.cachedStatement(sql: "SELECT id FROM run ORDER BY id ASC LIMIT 1 OFFSET ?"), arguments: [total - keep])
            : nil
        let delete = try db.cachedStatement(sql: "DELETE FROM run WHERE id < ? AND status NOT IN ('queued', 'running')")
        for bound in [oldestKept, cutoffID].compactMap({ $0 }) {
            try delete.execute(arguments: [bound])
            pruned += db.changesCount
        }
        return pruned
    }

    /// Marks the runs a dead process left `queued` or `running` as `interrupted`, at `date`,
    /// with an `error` saying why, and stores a `run.finished` event for each so its event
    /// stream ends like any other. Call it at start-up, before any run starts.
    public func markInterrupted(at date: Date, links: RunLinks) async throws -> Int {
        let unsaved = Set(buffer.snapshot().keys)
        do {
            return try await database.write { db in
                let rows = try Row.fetchAll(
                    db, sql: "SELECT \(RunRow.selection) FROM run WHERE status IN ('queued', 'running')")
                var interrupted: [PendingSave] = []
                for row in rows {
                    let record = try RunRow.record(from: row).interrupted(at: date)
                    guard !unsaved.contains(record.id) else { continue }  // a run of this process
                    // Its events were never stored (they are, once a run ends): this is the first.
                    interrupted.append(PendingSave(record: record, events: [record.finishedEvent(id: 1, links: links)]))
                }
                try Self.insert(interrupted, db)
                return interrupted.count
            }
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw RunStoreError.classifying(error, path: path)
        }
    }
}
