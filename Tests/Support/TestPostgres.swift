import Foundation
import Synchronization

/// The throwaway PostgreSQL server of the test run (`scripts/throwaway-postgres.sh run`, which
/// `make test` uses, sets `LAB_TEST_POSTGRES_URL` to its superuser's URL), and a fresh database
/// on it per test. Tests never touch a database the machine had before.
///
/// Without the variable a test that needs PostgreSQL fails, saying how to run it: run them as
/// `scripts/throwaway-postgres.sh run swift test --skip-build --filter NAME`.
public enum TestPostgres {
    public struct NotConfigured: Error, CustomStringConvertible {
        public var description: String {
            "LAB_TEST_POSTGRES_URL is not set: run the PostgreSQL tests through scripts/throwaway-postgres.sh run "
                + "(make test does), e.g. scripts/throwaway-postgres.sh run swift test --skip-build --filter PostgresStoreTests"
        }
    }

    public struct CommandFailed: Error, CustomStringConvertible {
        public let description: String

        public init(description: String) {
            self.description = description
        }
    }

    /// The superuser's URL of the throwaway server.
    public static func adminURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["LAB_TEST_POSTGRES_URL"], !url.isEmpty else { throw NotConfigured() }
        return url
    }

    /// A new, empty database for one test: its URL, and `drop`, which removes it.
    public static func makeDatabase() throws -> TestDatabase {
        let admin = try adminURL()
        let name = "lab_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        _ = try sql(admin, "CREATE DATABASE \(name)")
        return TestDatabase(name: name, url: url(admin, database: name), adminURL: admin)
    }

    /// `admin` with another database name.
    static func url(_ admin: String, database: String) -> String {
        guard var components = URLComponents(string: admin) else { return admin }
        components.path = "/" + database
        return components.string ?? admin
    }

    /// One psql at a time in this process: Foundation's `Process.run()` on Linux is not safe to
    /// call from two threads at once (a parallel test run crashed in it, in `memmove`, while
    /// another launch was listing /proc/self/fd). psql answers in milliseconds.
    private static let launches = Mutex<Void>(())

    /// Runs `statement` through psql; returns what it printed (unaligned, tuples only).
    @discardableResult
    public static func sql(_ url: String, _ statement: String) throws -> String {
        try launches.withLock { _ in try runPSQL(url, statement) }
    }

    private static func runPSQL(_ url: String, _ statement: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
        process.arguments = [url, "-v", "ON_ERROR_STOP=1", "-tAqc", statement]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let printed = output.fileHandleForReading.readDataToEndOfFile()
        let complaint = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CommandFailed(description: "psql failed on \(statement): \(String(decoding: complaint, as: UTF8.self))")
        }
        return String(decoding: printed, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// A database made for one test on the throwaway server.
public struct TestDatabase: Sendable {
    public let name: String
    /// Its URL, with the superuser's password.
    public let url: String
    let adminURL: String

    /// Runs `statement` in this database; returns what psql printed.
    @discardableResult
    public func sql(_ statement: String) throws -> String {
        try TestPostgres.sql(url, statement)
    }

    /// Removes the database, closing whatever still uses it.
    public func drop() {
        _ = try? TestPostgres.sql(adminURL, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }

    /// Runs `body` with a new database, dropped afterwards however `body` ends.
    public static func with<T>(_ body: (TestDatabase) async throws -> T) async throws -> T {
        let database = try TestPostgres.makeDatabase()
        do {
            let value = try await body(database)
            database.drop()
            return value
        } catch {
            database.drop()
            throw error
        }
    }
}
