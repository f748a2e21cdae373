import Foundation
import GRDB
import GRDBSQLite

/// Opening the file and its schema.
///
/// Schema v1 (migration "v1", `PRAGMA user_version` 1):
/// - `run`: one row per run, id (ULID text, primary key: sorts by creation), pattern, status,
///   params/result/checks/timeline as JSON text, created/started/finished times (REAL seconds
///   since 1970), duration_ms, progress_completed/total, error, and `event_count` (NULL until
///   the run's events are stored);
/// - `event`: (run_id, id) primary key, name, data (one line of JSON); deleted with its run;
/// - `run_by_pattern (pattern, id)` and `run_by_status (status, id)`: `GET /runs` filtered by
///   one of them reads newest first straight off an index (and `markInterrupted` finds the
///   unfinished runs by status).
///
/// Schema v2 (migration "v2-real-ms"): `run.real_ms`, the real time a run took beside its
/// `duration_ms` (which is simulated time for a `clock: virtual` run); NULL for older runs.
///
/// Schema v3 (migration "v3-packed-events"): a run's events are one row of `run_events`
/// (run_id primary key, deleted with its run; `data`, the events packed as `EventPack` lays
/// them out) instead of a row each in `event`, which the migration packs and drops.
extension SQLiteRunStore {
    /// The `user_version` this build writes; a file with a larger one is from a newer build.
    static let schemaVersion = 3

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE run (
                        id TEXT PRIMARY KEY NOT NULL,
                        pattern TEXT NOT NULL,
                        status TEXT NOT NULL,
                        params TEXT NOT NULL,
                        result TEXT,
                        checks TEXT NOT NULL,
                        timeline TEXT,
                        created_at REAL NOT NULL,
                        started_at REAL,
                        finished_at REAL,
                        duration_ms REAL,
                        progress_completed INTEGER NOT NULL,
                        progress_total INTEGER NOT NULL,
                        error TEXT,
                        event_count INTEGER
                    );
                    CREATE INDEX run_by_pattern ON run (pattern, id);
                    CREATE INDEX run_by_status ON run (status, id);
                    CREATE TABLE event (
                        run_id TEXT NOT NULL REFERENCES run (id) ON DELETE CASCADE,
                        id INTEGER NOT NULL,
                        name TEXT NOT NULL,
                        data TEXT NOT NULL,
                        PRIMARY KEY (run_id, id)
                    ) WITHOUT ROWID;
                    PRAGMA user_version = 1;
                    """)
        }
        migrator.registerMigration("v2-real-ms") { db in
            try db.execute(sql: "ALTER TABLE run ADD COLUMN real_ms REAL; PRAGMA user_version = 2;")
        }
        migrator.registerMigration("v3-packed-events") { db in
            try db.execute(
                sql: """
                    CREATE TABLE run_events (
                        run_id TEXT PRIMARY KEY NOT NULL REFERENCES run (id) ON DELETE CASCADE,
                        data BLOB NOT NULL
                    );
                    """)
            let select = try db.makeStatement(sql: "SELECT id, name, data FROM event WHERE run_id = ? ORDER BY id")
            let insert = try db.makeStatement(sql: "INSERT INTO run_events (run_id, data) VALUES (?, ?)")
            for runID in try String.fetchAll(db, sql: "SELECT id FROM run WHERE event_count IS NOT NULL") {
                try insertPackedEvents(of: runID, from: select, into: insert, db)
            }
            try db.execute(sql: "DROP TABLE event; PRAGMA user_version = 3;")
        }
        return migrator
    }

    /// Migration v3: one run's event rows packed as they are read, each row's bytes copied
    /// once, straight from SQLite's, into the pack (a run may hold millions of events: rows,
    /// `StoredEvent`s and a pack at once would be three copies of them).
    private static func insertPackedEvents(of runID: String, from select: Statement, into insert: Statement, _ db: Database) throws {
        let rows = select.sqliteStatement
        var runID = runID
        var pack = EventPack.Builder()
        try runID.withUTF8 { run in
            _ = sqlite3_reset(rows)
            SQLiteBinder(rows, copying: false).text(1, run)
            defer { _ = sqlite3_reset(rows) }
            while true {
                let code = sqlite3_step(rows)
                if code == SQLITE_DONE { break }
                guard code == SQLITE_ROW else { return try SQLiteBinder.expectDone(code, select, db) }
                pack.append(
                    id: Int(sqlite3_column_int64(rows, 0)), name: columnBytes(rows, 1), data: columnBytes(rows, 2))
            }
        }
        try insertPack(pack.finish(), of: runID, with: insert, db)
    }

    /// A text column's bytes in the current row, valid until the next step.
    private static func columnBytes(_ statement: SQLiteStatement?, _ column: Int32) -> UnsafeRawBufferPointer {
        guard let text = sqlite3_column_text(statement, column) else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: text, count: Int(sqlite3_column_bytes(statement, column)))
    }

    /// Opens (creating it and its folder if need be) and migrates the database at `path`.
    /// `readOnly` opens the connections read-only, as a read-only file or mount would: tests
    /// use it because root writes through `chmod`.
    static func openDatabase(path: String, readOnly: Bool) throws(RunStoreError) -> any DatabaseWriter {
        var configuration = Configuration()
        configuration.label = "store"
        configuration.readonly = readOnly
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            // In WAL mode NORMAL never corrupts the file; a power cut may lose the last commits.
            if !db.configuration.readonly { try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        }
        do {
            let writer: any DatabaseWriter
            if path == ":memory:" {
                writer = try DatabaseQueue(configuration: configuration)
            } else {
                let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                writer = try DatabasePool(path: path, configuration: configuration)
            }
            try refuseNewerSchema(writer, path: path)
            try migrator.migrate(writer)
            // Proves the file writable now rather than at the first save: a read-only file
            // opens and reads fine, and only a write says otherwise.
            try writer.write { db in try db.execute(sql: "PRAGMA user_version = \(schemaVersion)") }
            return writer
        } catch {
            throw openError(error, path: path)
        }
    }

    private static func refuseNewerSchema(_ writer: any DatabaseWriter, path: String) throws {
        try writer.read { db in
            let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
            let unknown = try migrator.appliedIdentifiers(db).subtracting(migrator.migrations)
            guard version > schemaVersion || !unknown.isEmpty else { return }
            var detail = "schema version \(version), this build knows \(schemaVersion)"
            if !unknown.isEmpty { detail += "; unknown migrations \(unknown.sorted().joined(separator: ", "))" }
            throw RunStoreError(kind: .newerSchema, path: path, detail: detail)
        }
    }

    /// The open failure, classified; a file or folder the process cannot write is `readOnly`
    /// whatever SQLite called it (it reports a read-only WAL file as unable to open, say).
    private static func openError(_ error: any Error, path: String) -> RunStoreError {
        let classified = RunStoreError.classifying(error, path: path)
        guard path != ":memory:", classified.kind == .cannotOpen || classified.kind == .failed else { return classified }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let fileManager = FileManager.default
        let fileReadOnly = fileManager.fileExists(atPath: path) && !fileManager.isWritableFile(atPath: path)
        let folderReadOnly = fileManager.fileExists(atPath: folder) && !fileManager.isWritableFile(atPath: folder)
        guard fileReadOnly || folderReadOnly else { return classified }
        let which = fileReadOnly ? "the file is not writable" : "its folder is not writable"
        return RunStoreError(kind: .readOnly, path: path, detail: "\(which); \(classified.detail)")
    }
}
