import Foundation
import LabJSON
import Patterns
import PostgresNIO
import Runs

/// How a `RunRecord` maps to a row of `runs` and back, and the statements that write rows.
///
/// The columns are the SQLite store's (see `PostgresSchema`), so a run reads back with the same
/// JSON: members as compact JSON text, times as seconds since 1970 in `double precision`.
enum PostgresRunRow {
    /// The columns `record(from:)` reads, in order.
    static let selection = """
        id, pattern, status, params, result, checks, timeline, created_at, started_at, finished_at, \
        duration_ms, progress_completed, progress_total, error, real_ms
        """

    /// How many columns `selection` names: columns selected after it start at this index.
    static let selectionCount = 15

    private static let insertedColumns = selection + ", owner, last_event_id, event_count"
    private static let columnCount = 18
    /// Rows per statement: 18 binds each stays far under the protocol's 65,535.
    static let rowsPerStatement = 1_000

    /// One multi-row upsert of `saves` (at most `rowsPerStatement`), returning the ids it wrote.
    ///
    /// Fenced: a row changes only while `owner` owns it and it is unfinished, or when the same
    /// end is saved again (with its events). A run another instance marked `interrupted` (its
    /// owner was presumed dead) is not brought back by a late save of the owner.
    static func upsert(_ saves: ArraySlice<PendingSave>, owner: String) throws -> PostgresQuery {
        var bindings = PostgresBindings(capacity: saves.count * columnCount)
        var rows: [String] = []
        rows.reserveCapacity(saves.count)
        for save in saves {
            let first = bindings.count + 1
            rows.append("(" + (first..<first + columnCount).map { "$\($0)" }.joined(separator: ", ") + ")")
            try append(save.record, to: &bindings)
            bindings.append(owner)
            bindings.append(save.events?.last?.id ?? 0)
            bindings.append(save.events?.count)
        }
        let sql = """
            INSERT INTO runs (\(insertedColumns)) VALUES \(rows.joined(separator: ", "))
            ON CONFLICT (id) DO UPDATE SET
                pattern = excluded.pattern, status = excluded.status, params = excluded.params,
                result = excluded.result, checks = excluded.checks, timeline = excluded.timeline,
                created_at = excluded.created_at, started_at = excluded.started_at,
                finished_at = excluded.finished_at, duration_ms = excluded.duration_ms, real_ms = excluded.real_ms,
                progress_completed = excluded.progress_completed, progress_total = excluded.progress_total,
                error = excluded.error, last_event_id = greatest(runs.last_event_id, excluded.last_event_id),
                event_count = coalesce(excluded.event_count, runs.event_count)
            WHERE runs.owner = excluded.owner
                AND (runs.status IN ('queued', 'running') OR runs.status = excluded.status)
            RETURNING id
            """
        return PostgresQuery(unsafeSQL: sql, binds: bindings)
    }

    private static func append(_ record: RunRecord, to bindings: inout PostgresBindings) throws {
        bindings.append(record.id)
        bindings.append(record.pattern)
        bindings.append(record.status.rawValue)
        bindings.append(record.params.serialized())
        bindings.append(record.result?.serialized())
        bindings.append(JSONValue.array(record.checks).serialized())
        bindings.append(record.timeline?.serialized())
        bindings.append(record.createdAt.timeIntervalSince1970)
        bindings.append(record.startedAt?.timeIntervalSince1970)
        bindings.append(record.finishedAt?.timeIntervalSince1970)
        bindings.append(record.durationMs)
        bindings.append(record.progress.completed)
        bindings.append(record.progress.total)
        bindings.append(record.error)
        bindings.append(record.realMs)
    }

    /// The record in a row selected with `selection` (from column `offset` on).
    static func record(from row: PostgresRow) throws -> RunRecord {
        let cells = row.makeRandomAccess()
        let id = try cells[0].decode(String.self)
        let statusText = try cells[2].decode(String.self)
        guard let status = RunStatus(rawValue: statusText) else {
            throw StoredRowError(detail: "run \(id) has an unknown status \(statusText)")
        }
        guard let checks = try json(cells[5].decode(String.self), of: id).arrayValue else {
            throw StoredRowError(detail: "run \(id) has checks that are not an array")
        }
        return RunRecord(
            id: id, pattern: try cells[1].decode(String.self), params: try json(cells[3].decode(String.self), of: id),
            status: status, createdAt: Date(timeIntervalSince1970: try cells[7].decode(Double.self)),
            startedAt: try cells[8].decode(Double?.self).map(Date.init(timeIntervalSince1970:)),
            finishedAt: try cells[9].decode(Double?.self).map(Date.init(timeIntervalSince1970:)),
            durationMs: try cells[10].decode(Double?.self), realMs: try cells[14].decode(Double?.self),
            progress: .init(completed: try cells[11].decode(Int.self), total: try cells[12].decode(Int.self)),
            result: try cells[4].decode(String?.self).map { try json($0, of: id) }, checks: checks,
            timeline: try cells[6].decode(String?.self).map { try json($0, of: id) }, error: try cells[13].decode(String?.self))
    }

    private static func json(_ text: String, of id: String) throws -> JSONValue {
        do {
            return try JSONValue.parse(text, maxDepth: 64)
        } catch {
            throw StoredRowError(detail: "run \(id) holds invalid JSON: \(error)")
        }
    }
}

/// A stored row this build cannot read.
struct StoredRowError: Error, CustomStringConvertible {
    let detail: String
    var description: String { detail }
}
