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
