import Foundation
import GRDB
import GRDBSQLite
import LabJSON
import Patterns

/// How a `RunRecord` maps to a row of the `run` table and back.
///
/// JSON members (params, result, checks, timeline) are stored as compact JSON text, so the
/// file reads well in `sqlite3` and `json_extract` works on it. Times are REAL seconds since
/// 1970 (UTC), what `datetime(created_at, 'unixepoch')` expects: they come back within a
/// microsecond (a double since 1970 has one bit less than Foundation's since 2001). RFC 3339
/// text at milliseconds would not do: Foundation truncates when it formats, so half the times
/// read back would show one millisecond earlier than the live run did.
///
/// Read back, a JSON double with an integral value (`200.0`) is the int `200`: it serialises to
/// the same bytes, so a stored run's JSON equals the live run's JSON.
enum RunRow {
    /// The columns `record(from:)` reads, in order.
    static let selection = """
        id, pattern, status, params, result, checks, timeline, created_at, started_at, finished_at,
        duration_ms, progress_completed, progress_total, error, real_ms
        """

    /// Inserts a run or replaces everything about it but its events. `event_count` stays
    /// NULL until the run's events are stored, and a save without events keeps the count.
    static let upsertSQL = """
        INSERT INTO run (\(selection), event_count)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(id) DO UPDATE SET
            pattern = excluded.pattern, status = excluded.status, params = excluded.params,
            result = excluded.result, checks = excluded.checks, timeline = excluded.timeline,
            created_at = excluded.created_at, started_at = excluded.started_at,
            finished_at = excluded.finished_at, duration_ms = excluded.duration_ms, real_ms = excluded.real_ms,
            progress_completed = excluded.progress_completed, progress_total = excluded.progress_total,
            error = excluded.error, event_count = coalesce(excluded.event_count, run.event_count)
        """

    /// Binds the record to `upsertSQL` (a prepared statement of it) and steps it. The values
    /// are bound straight from the record, the JSON members as the bytes their writer made: through
    /// `StatementArguments` each value became an existential and a `DatabaseValue`, and each JSON
    /// member a `String` copy of its bytes: the run rows took 10.9 % of the server's CPU at 2,000
    /// runs/s that way, 6.6 % this way.
    static func upsert(_ record: RunRecord, eventCount: Int?, with statement: Statement, _ db: Database) throws {
        let handle = statement.sqliteStatement
        _ = sqlite3_reset(handle)
        defer {
            _ = sqlite3_clear_bindings(handle)
            _ = sqlite3_reset(handle)
        }
        let bind = SQLiteBinder(handle)
        bind.text(1, record.id)
        bind.text(2, record.pattern)
        bind.text(3, record.status.rawValue)
        bind.json(4, record.params)
        bind.json(5, record.result)
        bind.json(6, JSONValue.array(record.checks))
        bind.json(7, record.timeline)
        bind.double(8, record.createdAt.timeIntervalSince1970)
        bind.double(9, record.startedAt?.timeIntervalSince1970)
        bind.double(10, record.finishedAt?.timeIntervalSince1970)
        bind.double(11, record.durationMs)
        bind.integer(12, record.progress.completed)
        bind.integer(13, record.progress.total)
        bind.text(14, record.error)
        bind.double(15, record.realMs)
        bind.integer(16, eventCount)
        try SQLiteBinder.expectDone(sqlite3_step(handle), statement, db)
    }

    /// The record in a row selected with `selection`; throws on a value this version cannot read.
    static func record(from row: Row) throws -> RunRecord {
        let id: String = try row.decode(atIndex: 0)
        let statusText: String = try row.decode(atIndex: 2)
        guard let status = RunStatus(rawValue: statusText) else {
            throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "run \(id) has an unknown status \(statusText)")
        }
        let checks = try json(row, 5, of: id)
        guard let checksArray = checks?.arrayValue else {
            throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "run \(id) has checks that are not an array")
        }
        return RunRecord(
            id: id, pattern: try row.decode(atIndex: 1), params: try json(row, 3, of: id) ?? .null, status: status,
            createdAt: Date(timeIntervalSince1970: try row.decode(atIndex: 7)), startedAt: try date(row, 8),
            finishedAt: try date(row, 9), durationMs: try row.decode(atIndex: 10), realMs: try row.decode(atIndex: 14),
            progress: .init(completed: try row.decode(atIndex: 11), total: try row.decode(atIndex: 12)),
            result: try json(row, 4, of: id), checks: checksArray, timeline: try json(row, 6, of: id),
            error: try row.decode(atIndex: 13))
    }

    private static func date(_ row: Row, _ index: Int) throws -> Date? {
        let seconds: Double? = try row.decode(atIndex: index)
        return seconds.map(Date.init(timeIntervalSince1970:))
    }

    private static func json(_ row: Row, _ index: Int, of id: String) throws -> JSONValue? {
        guard let text: String = try row.decode(atIndex: index) else { return nil }
        do {
            return try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        } catch {
            throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "run \(id) holds invalid JSON: \(error)")
        }
    }
}

/// Binds values to a prepared statement's parameters (1-based). nil binds NULL. Text is
/// copied (SQLITE_TRANSIENT) unless `copying` is false (SQLITE_STATIC: the caller steps the
/// statement while the bytes it bound are still borrowed).
struct SQLiteBinder {
    private let handle: SQLiteStatement?
    private let destructor: sqlite3_destructor_type?

    init(_ handle: SQLiteStatement?, copying: Bool = true) {
        self.handle = handle
        destructor = copying ? unsafeBitCast(-1, to: sqlite3_destructor_type.self) : nil
    }

    func text(_ index: Int32, _ value: String?) {
        guard var value else { return null(index) }
        value.withUTF8 { text(index, $0) }
    }

    func json(_ index: Int32, _ value: JSONValue?) {
        guard let value else { return null(index) }
        value.serializedBytes().withUnsafeBufferPointer { text(index, $0) }
    }

    func double(_ index: Int32, _ value: Double?) {
        guard let value else { return null(index) }
        _ = sqlite3_bind_double(handle, index, value)
    }

    func integer(_ index: Int32, _ value: Int?) {
        guard let value else { return null(index) }
        _ = sqlite3_bind_int64(handle, index, Int64(value))
    }

    /// UTF-8 bytes as text; empty text is '' (a nil pointer would bind NULL).
    func text(_ index: Int32, _ text: UnsafeBufferPointer<UInt8>) {
        guard let base = text.baseAddress, !text.isEmpty else {
            _ = sqlite3_bind_text(handle, index, "", 0, destructor)
            return
        }
        _ = base.withMemoryRebound(to: CChar.self, capacity: text.count) {
            sqlite3_bind_text(handle, index, $0, Int32(text.count), destructor)
        }
    }

    /// Bytes as a blob (an empty one is a zero-length blob, not NULL). Returns SQLite's result
    /// code: a blob past its length limit (or `Int32.max`) is refused (`SQLITE_TOOBIG`).
    @discardableResult
    func blob(_ index: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32 {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return sqlite3_bind_zeroblob(handle, index, 0) }
        guard bytes.count <= Int(Int32.max) else { return SQLITE_TOOBIG }
        return sqlite3_bind_blob(handle, index, base, Int32(bytes.count), destructor)
    }

    /// Throws what GRDB would for a step of `statement` that returned `code` instead of DONE.
    static func expectDone(_ code: Int32, _ statement: Statement, _ db: Database) throws {
        guard code != SQLITE_DONE else { return }
        throw DatabaseError(
            resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)),
            sql: statement.sql)
    }

    private func null(_ index: Int32) {
        _ = sqlite3_bind_null(handle, index)
    }
}
