import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

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

    /// One psql at a time in this process: its pipes are made close-on-exec only after `pipe`
    /// returns, so a psql started meanwhile could inherit another's write end and keep that
    /// reader waiting until it exits.
    private static let launches = Mutex<Void>(())

    /// Runs `statement` through psql; returns what it printed (unaligned, tuples only).
    @discardableResult
    public static func sql(_ url: String, _ statement: String) throws -> String {
        try launches.withLock { _ in try runPSQL(url, statement) }
    }

    /// psql through `posix_spawn`, not Foundation's `Process`: `Process.run()` crashed a parallel
    /// test run in `memmove` twice (once with every launch of it already under the lock above),
    /// while other tests were opening and closing thousands of sockets.
    private static func runPSQL(_ url: String, _ statement: String) throws -> String {
        var output: [Int32] = [-1, -1]
        var errors: [Int32] = [-1, -1]
        guard pipe(&output) == 0 else { throw CommandFailed(description: "pipe: errno \(errno)") }
        guard pipe(&errors) == 0 else {
            close(output[0])
            close(output[1])
            throw CommandFailed(description: "pipe: errno \(errno)")
        }
        // Only psql gets them (dup2 below clears the flag on its copies).
        for descriptor in output + errors {
            _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        }
        defer {
            close(output[0])
            close(errors[0])
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, output[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errors[1], 2)
        let words: [String] = ["/usr/bin/psql", url, "-v", "ON_ERROR_STOP=1", "-tAqc", statement]
        let arguments: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) }
        defer { arguments.forEach { free($0) } }
        var argv = arguments + [nil]
        var pid = pid_t()
        let spawned = posix_spawn(&pid, "/usr/bin/psql", &actions, nil, &argv, environ)
        close(output[1])
        close(errors[1])
        guard spawned == 0 else { throw CommandFailed(description: "cannot start psql: error \(spawned)") }
        let printed = readAll(output[0])
        let complaint = readAll(errors[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // Exited (no signal number in the low 7 bits) with status 0.
        guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else {
            throw CommandFailed(description: "psql failed on \(statement): \(String(decoding: complaint, as: UTF8.self))")
        }
        return String(decoding: printed, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Everything `descriptor` gives until its end.
    private static func readAll(_ descriptor: Int32) -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count > 0 {
                bytes.append(contentsOf: chunk[..<count])
            } else if count == 0 || errno != EINTR {
                return bytes
            }
        }
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
