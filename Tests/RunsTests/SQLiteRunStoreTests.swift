import Foundation
import GRDB
import Patterns
@testable import Runs
import Testing
import TestSupport

/// What is the SQLite store's own, on real files (a fresh temporary folder per test): its
/// buffer, its migrations and its files' faults (`+Failures`). What every store owes is in
/// `StoreConformanceTests`, and the registry on every store in `RegistryOnStoreTests`.
@Suite struct SQLiteRunStoreTests {
    let directory: TemporaryDirectory
    /// In a folder that does not exist yet: opening creates it.
    let file: String

    init() throws {
        directory = try TemporaryDirectory("store")
        file = directory.path("data/runs.sqlite")
    }

    // MARK: Migrations

    /// A file written before `real_ms` existed (schema v1: no `real_ms`, a row per event) gains
    /// the column and has its events packed on open (both migrations in turn); its runs read
    /// back with no real time and their events, and new ones keep theirs.
    @Test func fileOfSchemaOne_isMigrated_andItsRunsReadBackWithoutRealTime() async throws {
        var runs = RunFactory()
        let old = runs.finished()
        let events = RunFactory.events(of: old)
        let store = try SQLiteRunStore(path: file)
        store.save(old, events: events)
        await store.flush()
        try await DatabaseQueue(path: file).write { db in
            try Self.makeEventRows(db, [(old.id, events)])
            try db.execute(
                sql: """
                    ALTER TABLE run DROP COLUMN real_ms;
                    DELETE FROM grdb_migrations WHERE identifier IN ('v2-real-ms', 'v3-packed-events');
                    PRAGMA user_version = 1;
                    """)
        }
        let reopened = try SQLiteRunStore(path: file)
        let read = try #require(try await reopened.record(id: old.id))
        #expect(read.realMs == nil)
        #expect(read.json()["real_ms"] == .null)
        #expect(try await reopened.events(runID: old.id) == events)
        let new = runs.finished()
        reopened.save(new, events: nil)
        await reopened.flush()
        #expect(try await reopened.record(id: new.id)?.realMs == 201.9)
    }

    /// A file of schema v2 kept a row per event in `event`; on open, each run's events are
    /// packed into `run_events` and `event` is dropped. Every event reads back as it was, a
    /// run stored with no events still has none (its `event_count` is 0, no rows), a run whose
    /// events were never stored still has none to read (nil), and the store writes on.
    @Test func fileOfSchemaTwo_hasItsEventsPacked_andReadsThemBackUnchanged() async throws {
        var runs = RunFactory()
        let (a, b, empty, noEvents) = (runs.finished(), runs.finished(), runs.finished(), runs.finished())
        let eventsOfA = RunFactory.events(of: a, tasks: 40)
        let eventsOfB = RunFactory.events(of: b, tasks: 0)
        let store = try SQLiteRunStore(path: file)
        store.save(a, events: eventsOfA)
        store.save(b, events: eventsOfB)
        store.save(empty, events: [])
        store.save(noEvents, events: nil)
        await store.flush()
        try await DatabaseQueue(path: file).write { db in
            try Self.makeEventRows(db, [(a.id, eventsOfA), (b.id, eventsOfB), (empty.id, [])])
            try db.execute(
                sql: """
                    DELETE FROM grdb_migrations WHERE identifier = 'v3-packed-events';
                    PRAGMA user_version = 2;
                    """)
        }
        let reopened = try SQLiteRunStore(path: file)
        #expect(try await reopened.events(runID: a.id) == eventsOfA)
        #expect(try await reopened.events(runID: b.id) == eventsOfB)
        #expect(try await reopened.events(runID: empty.id) == [])
        #expect(try await reopened.events(runID: noEvents.id) == nil)
        let (version, tables) = try await reopened.database.read { db in
            (try Int.fetchOne(db, sql: "PRAGMA user_version"),
             try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '%event%' ORDER BY name"))
        }
        #expect(version == 3)
        #expect(tables == ["run_events"])
        let c = runs.finished()
        reopened.save(c, events: RunFactory.events(of: c))
        await reopened.flush()
        #expect(try await reopened.events(runID: c.id) == RunFactory.events(of: c))
    }

    /// Back to a row per event, as schemas v1 and v2 kept them: the `event` table holds
    /// `events` and `run_events` is gone.
    private static func makeEventRows(_ db: Database, _ events: [(runID: String, events: [StoredEvent])]) throws {
        try db.execute(
            sql: """
                CREATE TABLE event (
                    run_id TEXT NOT NULL REFERENCES run (id) ON DELETE CASCADE,
                    id INTEGER NOT NULL, name TEXT NOT NULL, data TEXT NOT NULL,
                    PRIMARY KEY (run_id, id)
                ) WITHOUT ROWID;
                DROP TABLE run_events;
                """)
        for (runID, events) in events {
            for event in events {
                try db.execute(
                    sql: "INSERT INTO event (run_id, id, name, data) VALUES (?, ?, ?, ?)",
                    arguments: [runID, event.id, event.name, event.dataText])
            }
        }
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

    /// Retention over several batches, counted from the old end: the oldest kept run is the
    /// `keepRuns`-th newest of all runs, a run in flight older than it counts and stays, and a
    /// batch that leaves the table at `keepRuns` deletes nothing. An offset one off either way
    /// keeps `c` or deletes `d`.
    @Test func prunesFromTheOldEnd_acrossBatches_countingRunsInFlight() async throws {
        var runs = RunFactory()
        let store = try SQLiteRunStore(path: file, retention: RunRetention(keepRuns: 3))
        let inFlight = runs.started()
        let (b, c, d, e, f) = (runs.finished(), runs.finished(), runs.finished(), runs.finished(), runs.finished())
        func write(_ records: RunRecord...) async {
            for record in records { store.save(record, events: RunFactory.events(of: record)) }
            await store.flush()
        }
        func stored() async throws -> [String] {
            try await store.database.read { db in try String.fetchAll(db, sql: "SELECT id FROM run ORDER BY id") }
        }
        await write(inFlight, b, c)
        #expect(try await stored() == [inFlight.id, b.id, c.id])
        await write(d)  // four runs: `b` is the third newest; only the run in flight is older
        #expect(try await stored() == [inFlight.id, b.id, c.id, d.id])
        await write(e, f)  // six: `d` is the third newest
        #expect(try await stored() == [inFlight.id, d.id, e.id, f.id])
        #expect(try await store.events(runID: c.id) == nil)
        #expect(store.statistics.prunedRuns == 2)
        // Their events went with them.
        let packed = try await store.database.read { db in try String.fetchAll(db, sql: "SELECT run_id FROM run_events ORDER BY run_id") }
        #expect(packed == [inFlight.id, d.id, e.id, f.id])
    }

    /// Saves made while the writer waits out its batch window go into one transaction (a
    /// group commit); the runs are readable from the buffer meanwhile, and a stop cuts the
    /// window short. The assertions hold whether or not the writer has woken for `a` before
    /// `b` is saved; the pause only lets a writer without a window commit `a` alone (two
    /// batches), which is how this test fails with `batchWindow: .zero`.
    @Test func savesWithinTheBatchWindow_areCommittedTogether_andAStopCutsItShort() async throws {
        var runs = RunFactory()
        let store = try SQLiteRunStore(path: file, batchWindow: .seconds(60))
        let (a, b, c) = (runs.finished(), runs.finished(), runs.finished())
        try await withWriter(store) { store in
            store.save(a, events: RunFactory.events(of: a))
            try await Task.sleep(for: .milliseconds(50))
            store.save(b, events: RunFactory.events(of: b))
            store.save(c, events: RunFactory.events(of: c))
            #expect(try await store.record(id: b.id)?.apiJSON == b.apiJSON)
            #expect(try await storedRunCount(store) == 0)
            #expect(store.statistics.batchesWritten == 0)
        }
        #expect(store.statistics.batchesWritten == 1)
        #expect(store.statistics.runsWritten == 3)
        #expect(try await storedRunCount(store) == 3)
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
