import Patterns
import PostgresNIO
import Runs

/// What one transaction of the writer writes, and how.
///
/// In order: the saved runs in one multi-row upsert (fenced on owner and status, see
/// `PostgresRunRow.upsert`); the live runs' progress in one update; every new event of both in
/// one multi-row insert (`unnest` of four arrays: one statement whatever the count); pruning,
/// when due; then `pg_notify` once per run that got events, delivered at commit. Rows the fence
/// refused (a run no longer this instance's) are reported, and their events are not written.
///
/// The statements' parameters (the runs' JSON, the events' text) are made before the
/// transaction begins: the database's time limit is for the database.
struct PostgresBatch: Sendable {
    struct Outcome: Sendable {
        var pruned = 0
        /// Saved runs whose rows the fence refused.
        var rejected: Set<String> = []
        /// Live runs whose progress and events were written (the others have no row yet, or
        /// the fence refused it).
        var liveAccepted: Set<String> = []
    }

    /// One run's new events, as the insert's columns, and its last event id.
    private struct RunEvents: Sendable {
        var runIDs: [String] = []
        var ids: [Int] = []
        var names: [String] = []
        var data: [String] = []

        init(_ runID: String, _ events: some Sequence<StoredEvent>) {
            for event in events {
                runIDs.append(runID)
                ids.append(event.id)
                names.append(event.name)
                data.append(event.dataText)
            }
        }

        var last: Int? { ids.last }
    }

    let owner: String
    private let savedIDs: [String]
    /// Runs whose end is saved here: their cluster permits are returned in the same transaction.
    private let endedIDs: [String]
    private let upserts: [PostgresQuery]
    private let progress: PostgresQuery?
    private let liveIDs: [String]
    private let savedEvents: [String: RunEvents]
    private let liveEvents: [String: RunEvents]

    /// `written` gives, for a run, the last event already written while it ran: its final
    /// save writes only those after it.
    init(saves: [PendingSave], live: [LiveTails.Work], owner: String, releasesPermits: Bool = false, written: (String) -> Int) throws {
        self.owner = owner
        savedIDs = saves.map(\.record.id)
        endedIDs = releasesPermits ? saves.filter { $0.record.status.isTerminal }.map(\.record.id) : []
        var upserts: [PostgresQuery] = []
        var start = saves.startIndex
        while start < saves.endIndex {
            let end = min(start + PostgresRunRow.rowsPerStatement, saves.endIndex)
            upserts.append(try PostgresRunRow.upsert(saves[start..<end], owner: owner))
            start = end
        }
        self.upserts = upserts
        var savedEvents: [String: RunEvents] = [:]
        for save in saves {
            guard let events = save.events else { continue }
            let after = written(save.record.id)
            savedEvents[save.record.id] = RunEvents(save.record.id, events.lazy.filter { $0.id > after })
        }
        self.savedEvents = savedEvents
        // A run whose final save is in this batch gets its events from it.
        let live = live.filter { savedEvents[$0.runID] == nil }
        liveIDs = live.map(\.runID)
        liveEvents = Dictionary(uniqueKeysWithValues: live.map { ($0.runID, RunEvents($0.runID, $0.events)) })
        progress = live.isEmpty ? nil : Self.progressUpdate(live, owner: owner)
    }

    func commit(on connection: PostgresConnection, prune retention: RunRetention?, cutoffID: String?, logger: Logger) async throws -> Outcome {
        var outcome = Outcome()
        var accepted: Set<String> = []
        for upsert in upserts {
            for try await id in try await connection.query(upsert, logger: logger).decode(String.self) { accepted.insert(id) }
        }
        if let progress {
            for try await id in try await connection.query(progress, logger: logger).decode(String.self) {
                outcome.liveAccepted.insert(id)
            }
        }
        outcome.rejected = Set(savedIDs).subtracting(accepted)
        if !endedIDs.isEmpty {
            // Fenced too: a permit the reaper freed may have been taken by another run since.
            try await connection.execute(
                """
                UPDATE run_permits SET run_id = NULL, owner = NULL, taken_at = NULL
                WHERE owner = \(owner) AND run_id = ANY(\(endedIDs))
                """, logger: logger)
        }
        let written = savedEvents.filter { accepted.contains($0.key) }.merging(liveEvents.filter { outcome.liveAccepted.contains($0.key) }) { $1 }
        try await insertEvents(written.values, connection, logger)
        if let retention { outcome.pruned = try await prune(connection, retention, cutoffID, logger) }
        let payloads = written.compactMap { runID, events in events.last.map { "\(runID):\($0)" } }
        if !payloads.isEmpty {
            try await connection.execute(
                "SELECT count(pg_notify(\(StoreListener.eventsChannel), payload)) FROM unnest(\(payloads)::text[]) AS payload",
                logger: logger)
        }
        return outcome
    }

    /// The live runs' progress and last event, for the rows still this instance's and unfinished.
    private static func progressUpdate(_ live: [LiveTails.Work], owner: String) -> PostgresQuery {
        let ids = live.map(\.runID)
        let completed = live.map(\.snapshot.progress.completed)
        let total = live.map(\.snapshot.progress.total)
        let duration = live.map { $0.snapshot.durationMs ?? 0 }
        let real = live.map { $0.snapshot.realMs ?? 0 }
        let last = live.map { $0.events.last?.id ?? 0 }
        return """
            UPDATE runs AS r SET progress_completed = u.completed, progress_total = u.total, duration_ms = u.duration,
                real_ms = u.real, last_event_id = greatest(r.last_event_id, u.last)
            FROM unnest(\(ids)::text[], \(completed)::bigint[], \(total)::bigint[], \(duration)::float8[], \(real)::float8[],
                \(last)::bigint[]) AS u(id, completed, total, duration, real, last)
            WHERE r.id = u.id AND r.owner = \(owner) AND r.status IN ('queued', 'running')
            RETURNING r.id
            """
    }

    private func insertEvents(_ runs: some Collection<RunEvents>, _ connection: PostgresConnection, _ logger: Logger) async throws {
        let runIDs = runs.flatMap(\.runIDs)
        guard !runIDs.isEmpty else { return }
        try await connection.execute(
            """
            INSERT INTO events (run_id, id, name, data)
            SELECT * FROM unnest(\(runIDs)::text[], \(runs.flatMap(\.ids))::bigint[], \(runs.flatMap(\.names))::text[],
                \(runs.flatMap(\.data))::text[])
            ON CONFLICT (run_id, id) DO NOTHING
            """, logger: logger)
    }

    /// Deletes the finished runs past the newest `keepRuns` and those older than the cutoff.
    private func prune(_ connection: PostgresConnection, _ retention: RunRetention, _ cutoffID: String?, _ logger: Logger) async throws -> Int {
        let offset = max(1, retention.keepRuns) - 1
        let rows = try await connection.query(
            """
            WITH doomed AS (
                DELETE FROM runs WHERE status NOT IN ('queued', 'running') AND (
                    id < (SELECT id FROM runs ORDER BY id DESC OFFSET \(offset) LIMIT 1) OR id < \(cutoffID ?? ""))
                RETURNING 1)
            SELECT count(*) FROM doomed
            """, logger: logger)
        var pruned = 0
        for try await count in rows.decode(Int.self) { pruned = count }
        return pruned
    }
}
