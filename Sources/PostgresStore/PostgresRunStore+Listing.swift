import Foundation
import Patterns
import PostgresNIO
import Runs

/// `GET /runs` and the runs earlier processes left in flight.
extension PostgresRunStore {
    /// Newest first by id, as the SQLite store (and with the same merge of unsaved runs): stable
    /// under inserts, since new runs get larger ids than any cursor, whichever instance made them
    /// (ids start with their creation time in milliseconds).
    public func list(_ query: RunQuery) async throws -> RunPage {
        // The buffer first: a run committed (and so gone from the buffer) while the table is
        // read is then in the table; the other order could miss it in both.
        let unsaved = buffer.snapshot().filter { id, _ in query.before.map { id < $0 } ?? true }
        let limit = max(0, query.limit)
        return try await reading { client in
            // Each unsaved run can hide at most one stored row (it may no longer match the filters).
            let storedIDs = try await Self.storedIDs(client, query, limit: limit + 1 + unsaved.count)
            var ids = storedIDs.filter { unsaved[$0] == nil }
            ids += unsaved.values.filter { Self.matches($0.record, query) }.map(\.record.id)
            ids.sort(by: >)
            let pageIDs = Array(ids.prefix(limit))
            let stored = try await Self.storedRuns(client, ids: pageIDs.filter { unsaved[$0] == nil })
            let runs = pageIDs.compactMap { unsaved[$0]?.record ?? stored[$0] }
            return RunPage(runs: runs, nextCursor: ids.count > limit ? pageIDs.last : nil)
        }
    }

    private static func storedIDs(_ client: PostgresClient, _ query: RunQuery, limit: Int) async throws -> [String] {
        var conditions: [String] = []
        var bindings = PostgresBindings()
        if let pattern = query.pattern {
            bindings.append(pattern)
            conditions.append("pattern = $\(bindings.count)")
        }
        if let status = query.status {
            bindings.append(status.rawValue)
            conditions.append("status = $\(bindings.count)")
        }
        if let before = query.before {
            bindings.append(before)
            conditions.append("id < $\(bindings.count)")
        }
        bindings.append(limit)
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let sql = "SELECT id FROM runs \(filter) ORDER BY id DESC LIMIT $\(bindings.count)"
        var ids: [String] = []
        for try await id in try await client.query(PostgresQuery(unsafeSQL: sql, binds: bindings)).decode(String.self) {
            ids.append(id)
        }
        return ids
    }

    private static func storedRuns(_ client: PostgresClient, ids: [String]) async throws -> [String: RunRecord] {
        guard !ids.isEmpty else { return [:] }
        var runs: [String: RunRecord] = [:]
        let rows = try await client.query("SELECT \(unescaped: PostgresRunRow.selection) FROM runs WHERE id = ANY(\(ids))")
        for try await row in rows {
            let record = try PostgresRunRow.record(from: row)
            runs[record.id] = record
        }
        return runs
    }

    private static func matches(_ record: RunRecord, _ query: RunQuery) -> Bool {
        if let pattern = query.pattern, record.pattern != pattern { return false }
        if let status = query.status, record.status != status { return false }
        return true
    }

    /// Marks `interrupted` the unfinished runs of earlier processes of this instance's name
    /// (`Options.instanceName`; none without one), each with a `run.finished` after its last
    /// stored event, and notifies their followers. Runs of other names are not touched: their
    /// owners may be alive (marking the runs of dead ones is for leases).
    public func markInterrupted(at date: Date, links: RunLinks) async throws -> Int {
        state.withLock { $0.links = links }
        guard let name = options.instanceName else { return 0 }
        let me = instanceID
        do {
            return try await Self.withConnection(url, options.connectTimeout, logger) { [logger] connection in
                try await connection.withTransaction(logger: logger) { connection in
                    let rows = try await connection.query(
                        """
                        SELECT \(unescaped: PostgresRunRow.selection), owner, last_event_id FROM runs
                        WHERE status IN ('queued', 'running')
                            AND owner IN (SELECT id FROM instances WHERE name = \(name) AND id <> \(me))
                        FOR UPDATE
                        """, logger: logger)
                    var found: [(RunRecord, owner: String, lastEventID: Int)] = []
                    for try await row in rows {
                        let cells = row.makeRandomAccess()
                        let after = PostgresRunRow.selectionCount
                        found.append((
                            try PostgresRunRow.record(from: row), try cells[after].decode(String.self),
                            try cells[after + 1].decode(Int.self)
                        ))
                    }
                    for (record, owner, lastEventID) in found {
                        try await Self.interrupt(record.interrupted(at: date), owner: owner, after: lastEventID, links: links, connection, logger)
                    }
                    return found.count
                }
            }
        } catch {
            throw PostgresFailure.classify(error, url: url)
        }
    }

    static func interrupt(
        _ record: RunRecord, owner: String, after lastEventID: Int, links: RunLinks, _ connection: PostgresConnection,
        _ logger: Logger
    ) async throws {
        let finished = record.finishedEvent(id: lastEventID + 1, links: links)
        try await connection.execute(
            """
            UPDATE runs SET status = \(record.status.rawValue), finished_at = \(record.finishedAt?.timeIntervalSince1970),
                error = \(record.error), last_event_id = \(finished.id), event_count = \(finished.id)
            WHERE id = \(record.id) AND owner = \(owner) AND status IN ('queued', 'running')
            """, logger: logger)
        try await connection.execute(
            "INSERT INTO events (run_id, id, name, data) VALUES (\(record.id), \(finished.id), \(finished.name), \(finished.dataText))",
            logger: logger)
        try await connection.execute(
            "SELECT pg_notify(\(StoreListener.eventsChannel), \("\(record.id):\(finished.id)"))", logger: logger)
    }
}
