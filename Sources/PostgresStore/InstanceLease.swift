import Foundation
import Logging
import PostgresNIO
import Runs

/// Leases, failover and fencing: how instances sharing one database learn that one of them died,
/// and what they do about it. The invariants (ARCHITECTURE.md repeats them):
///
/// 1. Failover. An instance's runs are marked `interrupted` only after its lease expired by the
///    database's clock: `heartbeat_at + lease_ms < now()` in SQL, never an instance's clock.
///    Time the database itself was down does not count: after it starts
///    (`pg_postmaster_start_time()`) every instance has two leases to renew, time for its
///    listener to reconnect (within about two seconds) and its pool to be replaced. Exactly once, by one surviving instance:
///    the reaper runs on every instance, but inside one transaction that holds
///    `pg_try_advisory_xact_lock(reaperLockKey)` and claims the dead instance by setting its
///    `reaped_at` (an instance is claimed once). That transaction also appends each run's
///    terminal `run.finished` (status `interrupted`, after the last stored event) and NOTIFYs it,
///    so every stream of the run on any instance ends and long-polls answer.
/// 2. Fencing. Every write an owner makes for a run is conditional on `owner = me AND status IN
///    ('queued', 'running')` (`PostgresRunRow.upsert`, `PostgresBatch`): a paused owner that
///    comes back cannot resurrect a run already interrupted; its late writes are refused, not
///    merged. It notices through those refusals and through its next heartbeat (which looks for
///    its runs marked `interrupted`), and cancels those runs locally (`lostRuns`).
/// 3. Cluster permits. At most N runs are active cluster-wide: a launch takes a free row of
///    `run_permits` (`FOR UPDATE SKIP LOCKED`, so concurrent launches never wait on each other)
///    or is refused at once. The permit is released in the transaction that saves the run's
///    end, or by the reaper in the transaction that interrupts its dead owner's runs: never later.
enum InstanceLease {
    /// An arbitrary constant: the advisory lock reapers take (one reaper at a time).
    static let reaperLockKey = 0x4C41_4222

    static func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1_000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }

    /// Renews this instance's lease; returns whether another instance had presumed it dead
    /// (reaped it) since its last heartbeat.
    static func renew(_ connection: PostgresConnection, instanceID: String, logger: Logger) async throws -> Bool {
        var reaped = false
        let rows = try await connection.query(
            "SELECT reaped_at IS NOT NULL FROM instances WHERE id = \(instanceID) FOR UPDATE", logger: logger)
        for try await wasReaped in rows.decode(Bool.self) { reaped = wasReaped }
        try await connection.execute(
            "UPDATE instances SET heartbeat_at = now(), reaped_at = NULL, stopped_at = NULL WHERE id = \(instanceID)",
            logger: logger)
        return reaped
    }

    /// What one reaper round did.
    struct Reaped: Sendable {
        var instances: [String] = []
        var runs: [String] = []
    }

    /// One reaper round, in one transaction: claims the instances whose lease expired, marks
    /// their unfinished runs `interrupted` with their `run.finished`, notifies, frees their permits.
    /// Does nothing when another instance is reaping now.
    static func reap(_ connection: PostgresConnection, links: RunLinks, logger: Logger) async throws -> Reaped {
        var reaped = Reaped()
        var locked = false
        for try await got in try await connection.query("SELECT pg_try_advisory_xact_lock(\(reaperLockKey))", logger: logger)
            .decode(Bool.self)
        {
            locked = got
        }
        guard locked else { return reaped }
        // A paused owner may hold a run's row lock in an open transaction: give up this round
        // rather than hold the reaper's lock behind it.
        try await connection.execute("SET LOCAL lock_timeout = '1s'", logger: logger)
        var now = 0.0
        let dead = try await connection.query(
            """
            UPDATE instances SET reaped_at = now()
            WHERE reaped_at IS NULL
                AND greatest(heartbeat_at + lease_ms * interval '1 millisecond',
                    pg_postmaster_start_time() + 2 * lease_ms * interval '1 millisecond') < now()
            RETURNING id, extract(epoch FROM now())::float8
            """, logger: logger)
        for try await (id, time) in dead.decode((String, Double).self) {
            reaped.instances.append(id)
            now = time
        }
        guard !reaped.instances.isEmpty else { return reaped }
        let rows = try await connection.query(
            """
            SELECT \(unescaped: PostgresRunRow.selection), owner, last_event_id FROM runs
            WHERE status IN ('queued', 'running') AND owner = ANY(\(reaped.instances))
            ORDER BY id FOR UPDATE
            """, logger: logger)
        var found: [(record: RunRecord, owner: String, lastEventID: Int)] = []
        for try await row in rows {
            let cells = row.makeRandomAccess()
            let after = PostgresRunRow.selectionCount
            found.append((try PostgresRunRow.record(from: row), try cells[after].decode(String.self), try cells[after + 1].decode(Int.self)))
        }
        let at = Date(timeIntervalSince1970: now)
        for run in found {
            try await PostgresRunStore.interrupt(
                run.record.interrupted(at: at), owner: run.owner, after: run.lastEventID, links: links, connection, logger)
            reaped.runs.append(run.record.id)
        }
        try await connection.execute(
            "UPDATE run_permits SET run_id = NULL, owner = NULL, taken_at = NULL WHERE owner = ANY(\(reaped.instances))",
            logger: logger)
        return reaped
    }

    /// Of `runIDs` (runs executing here), those another instance marked `interrupted`.
    static func interrupted(_ connection: PostgresConnection, among runIDs: [String], logger: Logger) async throws -> [String] {
        guard !runIDs.isEmpty else { return [] }
        var lost: [String] = []
        for try await id in try await connection.query(
            "SELECT id FROM runs WHERE id = ANY(\(runIDs)) AND status = 'interrupted'", logger: logger
        ).decode(String.self) {
            lost.append(id)
        }
        return lost
    }

    /// Graceful stop: the instance says it stopped and its permits are free. Its lease runs out
    /// as any other: a run it could not end (one stuck past the shutdown grace) is interrupted by
    /// a reaper then, or at once by its successor under the same name (`markInterrupted`).
    static func deregister(_ connection: PostgresConnection, instanceID: String, logger: Logger) async throws {
        try await connection.execute("UPDATE instances SET stopped_at = now() WHERE id = \(instanceID)", logger: logger)
        try await connection.execute(
            "UPDATE run_permits SET run_id = NULL, owner = NULL, taken_at = NULL WHERE owner = \(instanceID)", logger: logger)
    }
}
