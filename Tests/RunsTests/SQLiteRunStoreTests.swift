import Foundation
import GRDB
import Patterns
@testable import Runs
import Testing
import TestSupport

/// The SQLite store on real files (a fresh temporary folder per test), read back through
/// the store and, where it matters whether a run reached the file, through SQL.
@Suite struct SQLiteRunStoreTests {
    let directory: TemporaryDirectory
    /// In a folder that does not exist yet: opening creates it.
    let file: String

    init() throws {
        directory = try TemporaryDirectory("store")
        file = directory.path("data/runs.sqlite")
    }

    // MARK: Round trip and restart

    @Test func finishedRun_readsBackWithResultChecksTimelineAndEvents() async throws {
        var runs = RunFactory()
        let record = runs.finished(status: .failed)
        let events = RunFactory.events(of: record)
        let store = try SQLiteRunStore(path: file)
        store.save(record, events: events)
        await store.flush()
        #expect(try await storedRunCount(store) == 1)
        #expect(store.statistics.pendingRuns == 0)  // so what follows comes from the file

        let read = try #require(try await store.record(id: record.id))
        #expect(read.apiJSON == record.apiJSON)
        // Times come back within a microsecond (REAL seconds since 1970); the API shows milliseconds.
        #expect(abs(read.createdAt.timeIntervalSince(record.createdAt)) < 1e-6)
        #expect(abs(try #require(read.finishedAt).timeIntervalSince(try #require(record.finishedAt))) < 1e-6)
        #expect(read.error == "task 1 failed: injected failure")
        #expect(read.checksPassed == false)
        #expect(read.timeline?["spans"]?.arrayValue?.count == 3)
        #expect(try await store.events(runID: record.id) == events)
        #expect(try await store.record(id: "01KNOWNNOTHING0000000000000") == nil)
        #expect(try await store.events(runID: "01KNOWNNOTHING0000000000000") == nil)
    }

    /// A file written before `real_ms` existed (schema v1) gains the column on open; its
    /// runs read back with no real time, and new ones keep theirs.
    @Test func fileOfSchemaOne_isMigrated_andItsRunsReadBackWithoutRealTime() async throws {
        var runs = RunFactory()
        let old = runs.finished()
        let store = try SQLiteRunStore(path: file)
        store.save(old, events: nil)
        await store.flush()
        try await DatabaseQueue(path: file).write { db in
            try db.execute(
                sql: """
                    ALTER TABLE run DROP COLUMN real_ms;
                    DELETE FROM grdb_migrations WHERE identifier = 'v2-real-ms';
                    PRAGMA user_version = 1;
                    """)
        }
        let reopened = try SQLiteRunStore(path: file)
        let read = try #require(try await reopened.record(id: old.id))
        #expect(read.realMs == nil)
        #expect(read.json()["real_ms"] == .null)
        let new = runs.finished()
        reopened.save(new, events: nil)
        await reopened.flush()
        #expect(try await reopened.record(id: new.id)?.realMs == 201.9)
    }

    @Test func reopenedFile_hasTheRunsAndEventsOfThePreviousProcess() async throws {
        var runs = RunFactory()
        let finished = (0..<3).map { _ in runs.finished() }
        // Only the writer loop and shutdown write here: no flush.
        try await withWriter(try SQLiteRunStore(path: file)) { store in
            for record in finished { store.save(record, events: RunFactory.events(of: record)) }
        }

        let reopened = try SQLiteRunStore(path: file)
        for record in finished {
            #expect(try await reopened.record(id: record.id)?.apiJSON == record.apiJSON)
            #expect(try await reopened.events(runID: record.id) == RunFactory.events(of: record))
        }
        #expect(try await reopened.list(RunQuery()).runs.map(\.id) == finished.map(\.id).reversed())
    }

    @Test func markInterrupted_endsOnlyTheRunsLeftInFlight() async throws {
        var runs = RunFactory()
        let running = runs.started()
        var queued = runs.started()
        queued.status = .queued
        let succeeded = runs.finished()
        let cancelled = runs.finished(status: .cancelled)
        let first = try SQLiteRunStore(path: file)
        for record in [running, queued] { first.save(record, events: nil) }
        for record in [succeeded, cancelled] { first.save(record, events: RunFactory.events(of: record)) }
        await first.flush()

        let restarted = try SQLiteRunStore(path: file)
        let foundAt = Date(timeIntervalSince1970: 1_780_000_500.25)
        #expect(try await restarted.markInterrupted(at: foundAt) == 2)
        for id in [running.id, queued.id] {
            let record = try #require(try await restarted.record(id: id))
            #expect(record.status == .interrupted)
            #expect(record.finishedAt == foundAt)
            #expect(record.error == "the server stopped while this run was in flight")
            // Its event stream ends like any other: with run.finished carrying the run.
            let events = try #require(try await restarted.events(runID: id))
            #expect(events.map(\.name) == ["run.finished"])
            #expect(events.first?.dataText.contains("\"status\":\"interrupted\"") == true)
        }
        for record in [succeeded, cancelled] {
            #expect(try await restarted.record(id: record.id)?.apiJSON == record.apiJSON)
            #expect(try await restarted.events(runID: record.id) == RunFactory.events(of: record))
        }
        #expect(try await restarted.markInterrupted(at: foundAt) == 0)
    }

    // MARK: Listing

    @Test func pages_haveNoDuplicatesOrGaps_whileNewRunsAreInserted() async throws {
        var runs = RunFactory()
        var listed: [String] = []
        let store = try SQLiteRunStore(path: file)
        // Light records (no result or timeline): this is about ids, not payloads.
        for index in 0..<2_950 {
            let record = runs.started()
            store.save(record, events: nil)
            listed.append(record.id)
            if index.isMultiple(of: 500) { await store.flush() }  // several batches, as a writer would
        }
        await store.flush()
        for _ in 0..<50 {  // the newest still in the buffer when the first page is read
            let record = runs.started()
            store.save(record, events: nil)
            listed.append(record.id)
        }
        var seen: [String] = []
        try await withWriter(store) { store in
            var cursor: String?
            var page = 0
            repeat {
                let result = try await store.list(RunQuery(limit: 97, before: cursor))
                seen += result.runs.map(\.id)
                cursor = result.nextCursor
                // Between two pages runs start and end; the writer commits them whenever.
                for _ in 0..<7 {
                    let started = runs.started()
                    store.save(started, events: nil)
                    store.save(RunFactory.ended(started), events: nil)
                }
                if page.isMultiple(of: 3) { await store.flush() }
                page += 1
            } while cursor != nil
        }
        #expect(seen.count == 3_000)
        #expect(Set(seen).count == seen.count)
        #expect(seen == listed.reversed())
    }

    @Test func filtersByPatternAndStatus_newestFirst_withALastPage() async throws {
        var runs = RunFactory()
        let patterns = ["gather", "semaphore", "lock"]
        let statuses: [RunStatus] = [.succeeded, .failed, .cancelled, .succeeded]
        var saved: [RunRecord] = []
        let store = try SQLiteRunStore(path: file)
        for index in 0..<36 {
            let record = runs.finished(pattern: patterns[index % 3], status: statuses[index % 4])
            store.save(record, events: nil)
            saved.append(record)
        }
        await store.flush()

        func all(_ query: RunQuery) async throws -> [String] {
            var ids: [String] = []
            var query = query
            repeat {
                let page = try await store.list(query)
                #expect(page.runs.count <= query.limit)
                ids += page.runs.map(\.id)
                query.before = page.nextCursor
            } while query.before != nil
            return ids
        }
        let newestFirst = Array(saved.reversed())
        #expect(try await all(RunQuery(pattern: "semaphore", limit: 5)) == newestFirst.filter { $0.pattern == "semaphore" }.map(\.id))
        #expect(try await all(RunQuery(status: .failed, limit: 4)) == newestFirst.filter { $0.status == .failed }.map(\.id))
        #expect(
            try await all(RunQuery(pattern: "lock", status: .succeeded, limit: 2))
                == newestFirst.filter { $0.pattern == "lock" && $0.status == .succeeded }.map(\.id))
        #expect(try await store.list(RunQuery(pattern: "nope")).runs.isEmpty)
        let exact = try await store.list(RunQuery(pattern: "gather", limit: 12))
        #expect(exact.runs.count == 12)
        #expect(exact.nextCursor == nil)  // exactly a page left: no empty page after it
    }

    @Test func filters_seeTheUnsavedStateOfARun() async throws {
        var runs = RunFactory()
        let store = try SQLiteRunStore(path: file)
        let started = runs.started()
        store.save(started, events: nil)
        await store.flush()  // the file says running
        store.save(RunFactory.ended(started), events: nil)  // the buffer says succeeded

        #expect(try await store.list(RunQuery(status: .running)).runs.isEmpty)
        #expect(try await store.list(RunQuery(status: .succeeded)).runs.map(\.status) == [.succeeded])
    }

    // MARK: Buffer and writer

    @Test func reads_seeSavesNotYetWritten_andTheLastSaveOfARunWins() async throws {
        var runs = RunFactory()
        let store = try SQLiteRunStore(path: file)  // no writer loop: nothing is written before flush
        let started = runs.started()
        store.save(started, events: nil)
        #expect(try await store.record(id: started.id)?.status == .running)
        #expect(try await store.events(runID: started.id) == nil)

        let ended = RunFactory.ended(started)
        let events = RunFactory.events(of: ended)
        store.save(ended, events: events)
        #expect(try await store.record(id: started.id)?.apiJSON == ended.apiJSON)
        #expect(try await store.events(runID: started.id) == events)
        #expect(try await store.list(RunQuery()).runs.map(\.status) == [.succeeded])
        #expect(try await storedRunCount(store) == 0)  // all of it came from the buffer
        #expect(store.statistics.pendingRuns == 1)

        await store.flush()
        #expect(try await storedRunCount(store) == 1)
        #expect(store.statistics.runsWritten == 1)  // two saves, one row written
        #expect(try await store.record(id: started.id)?.status == .succeeded)
    }

    @Test func concurrentSaves_leaveEveryRunAtItsLastSave() async throws {
        let store = try SQLiteRunStore(path: file)
        try await withWriter(store) { store in
            await withTaskGroup(of: Void.self) { group in
                for worker in 0..<16 {
                    group.addTask {
                        var runs = RunFactory()
                        for _ in 0..<40 {
                            let started = runs.started(pattern: "worker-\(worker)")
                            store.save(started, events: nil)
                            await Task.yield()
                            let ended = RunFactory.ended(started)
                            store.save(ended, events: RunFactory.events(of: ended))
                        }
                    }
                }
            }
            await store.flush()
            #expect(store.statistics.pendingRuns == 0)
        }
        let stored = try await SQLiteRunStore(path: file).list(RunQuery(limit: 1_000)).runs
        #expect(stored.count == 640)
        #expect(stored.allSatisfy { $0.status == .succeeded })
    }

    // MARK: Retention

    @Test func retention_keepsTheNewestRuns_andDeletesTheOthersWithTheirEvents() async throws {
        var runs = RunFactory()
        let store = try SQLiteRunStore(path: file, retention: .init(keepRuns: 5))
        let saved = (0..<8).map { _ in runs.finished() }
        for record in saved { store.save(record, events: RunFactory.events(of: record)) }
        await store.flush()

        #expect(try await store.list(RunQuery()).runs.map(\.id) == saved.suffix(5).reversed().map(\.id))
        for record in saved.prefix(3) {
            #expect(try await store.record(id: record.id) == nil)
            #expect(try await store.events(runID: record.id) == nil)
        }
        let eventRows = try await store.database.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM event") }
        #expect(eventRows == 5 * 8)  // 8 events per run, none left of the pruned runs
        #expect(store.statistics.prunedRuns == 3)
    }

    @Test func retention_deletesRunsOlderThanKeepDays() async throws {
        let now = Date(timeIntervalSince1970: 1_780_000_000)
        var runs = RunFactory()
        let store = try SQLiteRunStore(path: file, retention: .init(keepDays: 7), now: { now })
        let old = runs.finished(createdAt: now.addingTimeInterval(-8 * 86_400))
        let recent = runs.finished(createdAt: now.addingTimeInterval(-6 * 86_400))
        let fresh = runs.finished(createdAt: now.addingTimeInterval(-60))
        for record in [old, recent, fresh] { store.save(record, events: RunFactory.events(of: record)) }
        await store.flush()

        #expect(try await store.list(RunQuery()).runs.map(\.id) == [fresh.id, recent.id])
        #expect(try await store.events(runID: old.id) == nil)
    }

    // MARK: Helpers

    /// Rows in the `run` table: what reached the file, whatever the buffer holds.
    func storedRunCount(_ store: SQLiteRunStore) async throws -> Int {
        try await store.database.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM run") ?? 0 }
    }
}

/// Runs the store's writer loop while `body` runs, then shuts the store down (draining it).
func withWriter<T: Sendable>(
    _ store: SQLiteRunStore, _ body: (SQLiteRunStore) async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await store.run() }
        do {
            let value = try await body(store)
            await store.shutdown()
            try await group.waitForAll()
            return value
        } catch {
            await store.shutdown()
            throw error
        }
    }
}
