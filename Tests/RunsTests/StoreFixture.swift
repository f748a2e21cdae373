import Foundation
import GRDB
import PostgresStore
@testable import Runs
import Testing
import TestSupport

/// The stores the conformance suite runs against.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case memory, sqlite, postgres

    /// The kinds whose runs outlive the store object (a restart opens a new one on the same data).
    static let persistent: [StoreKind] = [.sqlite, .postgres]

    var testDescription: String { rawValue }
}

/// The data of one test for one kind of store (a temporary SQLite file, a fresh PostgreSQL
/// database on the throwaway server, or nothing for the in-memory store), and the stores
/// opened on it: a second one opened after the first is a restart.
struct StoreFixture: Sendable {
    let kind: StoreKind
    let directory: TemporaryDirectory?
    let database: TestDatabase?

    /// Runs `body` with fresh data of `kind`, removed afterwards.
    static func with<T: Sendable>(_ kind: StoreKind, _ body: (StoreFixture) async throws -> T) async throws -> T {
        switch kind {
        case .memory:
            return try await body(StoreFixture(kind: kind, directory: nil, database: nil))
        case .sqlite:
            return try await body(StoreFixture(kind: kind, directory: try TemporaryDirectory("conformance"), database: nil))
        case .postgres:
            return try await TestDatabase.with { database in try await body(StoreFixture(kind: kind, directory: nil, database: database)) }
        }
    }

    /// The SQLite file, in a folder that does not exist yet (opening creates it).
    var file: String { directory?.path("data/runs.sqlite") ?? "" }

    /// What an open error must name: the file, or the database URL without its password.
    var location: String {
        switch kind {
        case .memory: ":memory:"
        case .sqlite: file
        case .postgres: (try? PostgresURL(database?.url ?? "").redacted) ?? ""
        }
    }

    /// Opens a store on the fixture's data, runs its service loop while `body` runs, then shuts it
    /// down (writing what is pending).
    func withStore<T: Sendable>(
        retention: RunRetention = RunRetention(), now: @escaping @Sendable () -> Date = { Date() },
        _ body: (any RunStore) async throws -> T
    ) async throws -> T {
        let store = try await open(retention: retention, now: now)
        return try await withThrowingTaskGroup(of: Void.self) { group in
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

    func open(retention: RunRetention = RunRetention(), now: @escaping @Sendable () -> Date = { Date() }) async throws -> any RunStore {
        switch kind {
        case .memory:
            return InMemoryRunStore(retention: retention, now: now)
        case .sqlite:
            return try SQLiteRunStore(path: file, retention: retention, now: now)
        case .postgres:
            let url = try PostgresURL(database?.url ?? "")
            return try await PostgresRunStore.open(
                url: url, options: .init(instanceName: "conformance", retention: retention), now: now)
        }
    }

    /// Rows that reached the database, whatever a store's buffer holds (nil for memory).
    func storedRunCount() async throws -> Int? {
        switch kind {
        case .memory: nil
        case .sqlite: try await DatabaseQueue(path: file).read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM run") }
        case .postgres: Int(try database?.sql("SELECT count(*) FROM runs") ?? "")
        }
    }

    /// Makes the data look written by a newer build (a migration this build does not know).
    func plantNewerSchema() async throws {
        switch kind {
        case .memory: Issue.record("the in-memory store has no schema")
        case .sqlite:
            try await DatabaseQueue(path: file).write { db in
                try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99-from-a-newer-build')")
            }
        case .postgres:
            try database?.sql("INSERT INTO schema_versions (version, name) VALUES (99, 'from a newer build')")
        }
    }
}
