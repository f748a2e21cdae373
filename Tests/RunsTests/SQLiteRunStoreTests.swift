import Foundation
import GRDB
import Patterns
@testable import Runs
import Testing
import TestSupport

/// What is the SQLite store's own, on real files (a fresh temporary folder per test): its
/// buffer, its files' faults (`+Failures`) and the registry on it (`+Registry`). What every store
/// owes is in `StoreConformanceTests`, which runs on SQLite too.
@Suite struct SQLiteRunStoreTests {
    let directory: TemporaryDirectory
    /// In a folder that does not exist yet: opening creates it.
    let file: String

    init() throws {
        directory = try TemporaryDirectory("store")
        file = directory.path("data/runs.sqlite")
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
