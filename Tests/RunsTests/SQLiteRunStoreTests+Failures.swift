import Foundation
import GRDB
import Logging
import Patterns
@testable import Runs
import Testing
import TestSupport

/// Files the store must refuse at open, and failures while it runs: reads throw, writes are
/// logged and kept for the next attempt, and `isHealthy` says so.
extension SQLiteRunStoreTests {
    @Test func newerUserVersion_isRefusedAtOpen() async throws {
        _ = try SQLiteRunStore(path: file)
        try await DatabaseQueue(path: file).write { db in try db.execute(sql: "PRAGMA user_version = 4") }
        let error = try #require(openError { try SQLiteRunStore(path: file) })
        #expect(error.kind == .newerSchema)
        #expect(error.description.contains("schema version 4, this build knows 3"))
    }

    @Test func fileOfGarbage_isRefusedAtOpen_asCorrupt() async throws {
        try FileManager.default.createDirectory(atPath: directory.path("data"), withIntermediateDirectories: true)
        let garbage = (0..<8_192).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 17) }
        try Data(garbage).write(to: URL(fileURLWithPath: file))
        let error = try #require(openError { try SQLiteRunStore(path: file) })
        #expect(error.kind == .corrupt)
        #expect(error.description.contains(file))
        #expect(error.description.contains("not a database"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: file)) == Data(garbage))  // left as it was
    }

    @Test func folderInPlaceOfTheFile_isRefusedAtOpen() async throws {
        try FileManager.default.createDirectory(atPath: file, withIntermediateDirectories: true)
        let error = try #require(openError { try SQLiteRunStore(path: file) })
        #expect(error.kind == .cannotOpen)
        #expect(error.description.contains(file))
    }

    /// Root writes through `chmod`, so as root the store's connections are opened read-only
    /// instead: SQLite then refuses the write the store tries at open with the same
    /// SQLITE_READONLY a read-only file gives anyone else. As another user the file and its
    /// folder really are made read-only.
    @Test func readOnlyFile_isRefusedAtOpen() async throws {
        var runs = RunFactory()
        let record = runs.finished()
        do {
            let store = try SQLiteRunStore(path: file)
            store.save(record, events: nil)
            await store.flush()
        }
        let error: RunStoreError?
        if geteuid() == 0 {
            error = openError {
                try SQLiteRunStore(
                    path: file, retention: .init(), maxPendingRuns: 10, logger: Logger(label: "store"), now: { Date() },
                    readOnly: true)
            }
        } else {
            let fileManager = FileManager.default
            try fileManager.setAttributes([.posixPermissions: 0o444], ofItemAtPath: file)
            try fileManager.setAttributes([.posixPermissions: 0o555], ofItemAtPath: directory.path("data"))
            error = openError { try SQLiteRunStore(path: file) }
        }
        let refused = try #require(error)
        #expect(refused.kind == .readOnly)
        #expect(refused.description.contains(file))
        #expect(refused.description.contains("cannot be written"))
    }

    @Test func fullDisk_failedWriteIsLoggedAndKept_readsStillSeeTheRun_andTheNextWriteRecovers() async throws {
        let log = LogCapture()
        let store = try SQLiteRunStore(path: file, logger: log.logger)
        // The file may not grow by a page: every write needing one fails with SQLITE_FULL,
        // as on a full disk.
        try await store.database.writeWithoutTransaction { db in
            let pages = try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0
            try db.execute(sql: "PRAGMA max_page_count = \(pages)")
        }
        var runs = RunFactory()
        var started = runs.started()
        started.params = ["count": 3, "note": .string(String(repeating: "x", count: 20_000))]  // needs new pages
        store.save(started, events: nil)
        await store.flush()  // returns although the write failed

        #expect(store.lastWriteError?.kind == .diskFull)
        #expect(!store.isHealthy)
        #expect(store.statistics.failedWrites == 1)
        #expect(store.statistics.pendingRuns == 1)
        #expect(try await storedRunCount(store) == 0)
        #expect(try await store.record(id: started.id)?.apiJSON == started.apiJSON)  // from memory
        #expect(log.errors.contains { $0.contains("write failed") && $0.contains("is full") && $0.contains(file) })

        // The run ends while its start is still unwritten; then space comes back.
        let ended = RunFactory.ended(started)
        let events = RunFactory.events(of: ended)
        store.save(ended, events: events)
        try await store.database.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA max_page_count = 1073741823") }
        await store.flush()
        #expect(store.isHealthy)
        #expect(store.statistics.pendingRuns == 0)
        #expect(try await storedRunCount(store) == 1)
        #expect(try await store.record(id: started.id)?.apiJSON == ended.apiJSON)  // the end, not the stale start
        #expect(try await store.events(runID: started.id) == events)
    }

    /// The schema is damaged behind the store's back (its table definition overwritten, as a
    /// bad sector or a stray writer could): SQLite reports SQLITE_CORRUPT on every statement.
    @Test func corruptedWhileOpen_readsThrow_writesAreLogged_andHealthSaysSo() async throws {
        let log = LogCapture()
        let store = try SQLiteRunStore(path: file, logger: log.logger)
        var runs = RunFactory()
        let stored = runs.finished()
        store.save(stored, events: RunFactory.events(of: stored))
        await store.flush()
        try await DatabaseQueue(path: file).writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA writable_schema = ON")
            try db.execute(sql: "UPDATE sqlite_master SET sql = 'CREATE TABLE run (id' WHERE name = 'run'")
            let version = try Int.fetchOne(db, sql: "PRAGMA schema_version") ?? 0
            try db.execute(sql: "PRAGMA schema_version = \(version + 1)")  // so open connections reread it
        }

        let readError = await #expect(throws: RunStoreError.self) { try await store.record(id: stored.id) }
        #expect(readError?.kind == .corrupt)
        #expect(readError?.description.contains(file) == true)
        await #expect(throws: RunStoreError.self) { try await store.list(RunQuery()) }

        let unsaved = runs.finished()
        store.save(unsaved, events: nil)
        await store.flush()
        #expect(store.lastWriteError?.kind == .corrupt)
        #expect(!store.isHealthy)
        #expect(log.errors.contains { $0.contains("write failed") })
        // A run not yet written is still served, from memory.
        #expect(try await store.record(id: unsaved.id)?.status == .succeeded)
    }

    @Test func registry_turnsAFailingReadIntoStoreUnavailable() async throws {
        let store = try SQLiteRunStore(path: file)
        try await DatabaseQueue(path: file).write { db in try db.execute(sql: "DROP TABLE run_events; DROP TABLE run") }
        let registry = RunRegistry(catalog: PatternCatalog(limits: .defaults), store: store)
        do {
            _ = try await registry.record(id: "01KSR4923V75K0YQ053YXA41DW")
            Issue.record("expected the read to fail")
        } catch {
            guard case .storeUnavailable(let message) = error else {
                Issue.record("expected storeUnavailable, got \(error)")
                return
            }
            #expect(message.contains(file))
            #expect(message.contains("no such table"))
        }
    }

    /// The `RunStoreError` that opening throws, or nil when it opens.
    func openError(_ open: () throws -> SQLiteRunStore) -> RunStoreError? {
        do {
            _ = try open()
            return nil
        } catch {
            #expect(error is RunStoreError, "opening threw \(error)")
            return error as? RunStoreError
        }
    }
}
