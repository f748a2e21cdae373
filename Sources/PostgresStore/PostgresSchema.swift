import Logging
import PostgresNIO
import Runs

/// The store's tables and their versioned migrations.
///
/// `schema_versions` holds one row per applied migration. Opening the store applies the missing
/// ones in one transaction, under an advisory lock so that instances starting together migrate
/// once; a database with a version this build does not know was written by a newer build, and
/// opening it is refused (as the SQLite store refuses a newer file).
///
/// Version 1:
/// - `instances`: one row per process that opened the store: its id (the `owner` of its runs),
///   the name it restarts under (`--instance-name`), its address, when it started, a heartbeat
///   (leases build on it) and when it stopped cleanly.
/// - `runs`: one row per run (ids in the "C" collation: byte order, which is creation order
///   for run ids whatever the database's locale), the SQLite store's columns (JSON members as text, times as
///   seconds since 1970: they come back within a microsecond) plus `owner` and `last_event_id`
///   (the newest event in `events`, written while the run goes on). `event_count` stays NULL
///   until the run ended and all its events are stored. Indexes read `GET /runs` newest first,
///   filtered or not, straight off an index, and find an owner's unfinished runs.
/// - `events`: (run_id, id) primary key, name, data (one line of JSON, the bytes the owner's
///   stream sends, unchanged); deleted with their run.
///
/// Version 2: `runs.real_ms`, the real time a run took beside its `duration_ms` (simulated
/// time for a `clock: virtual` run), as the SQLite store's schema v2; NULL for older runs.
///
/// Version 3, leases and the cluster bound (`InstanceLease`): `instances.lease_ms` (each
/// instance's own lease, which the reaper judges it by), `instances.reaped_at` (when a surviving
/// instance presumed it dead and interrupted its runs), and `run_permits`: one row per slot of
/// `--cluster-max-concurrent-runs`, holding the run that took it and its owner.
enum PostgresSchema {
    struct Migration {
        let version: Int
        let name: String
        let sql: [String]
    }

    static let migrations: [Migration] = [
        Migration(version: 1, name: "runs, events and instances", sql: [
            """
            CREATE TABLE instances (
                id text PRIMARY KEY,
                name text NOT NULL,
                address text NOT NULL,
                started_at timestamptz NOT NULL DEFAULT now(),
                heartbeat_at timestamptz NOT NULL DEFAULT now(),
                stopped_at timestamptz
            )
            """,
            "CREATE INDEX instances_by_name ON instances (name)",
            """
            CREATE TABLE runs (
                id text COLLATE "C" PRIMARY KEY,
                pattern text NOT NULL,
                status text NOT NULL,
                owner text NOT NULL,
                params text NOT NULL,
                result text,
                checks text NOT NULL,
                timeline text,
                created_at double precision NOT NULL,
                started_at double precision,
                finished_at double precision,
                duration_ms double precision,
                progress_completed bigint NOT NULL,
                progress_total bigint NOT NULL,
                error text,
                last_event_id bigint NOT NULL DEFAULT 0,
                event_count bigint
            )
            """,
            "CREATE INDEX runs_by_pattern ON runs (pattern, id)",
            "CREATE INDEX runs_by_status ON runs (status, id)",
            "CREATE INDEX runs_unfinished_by_owner ON runs (owner) WHERE status IN ('queued', 'running')",
            """
            CREATE TABLE events (
                run_id text COLLATE "C" NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
                id bigint NOT NULL,
                name text NOT NULL,
                data text NOT NULL,
                PRIMARY KEY (run_id, id)
            )
            """,
        ]),
        Migration(version: 2, name: "runs.real_ms", sql: ["ALTER TABLE runs ADD COLUMN real_ms double precision"]),
        Migration(version: 3, name: "leases and run permits", sql: [
            "ALTER TABLE instances ADD COLUMN lease_ms bigint NOT NULL DEFAULT 10000",
            "ALTER TABLE instances ADD COLUMN reaped_at timestamptz",
            "CREATE INDEX instances_unreaped ON instances (heartbeat_at) WHERE reaped_at IS NULL",
            """
            CREATE TABLE run_permits (
                slot integer PRIMARY KEY,
                run_id text COLLATE "C",
                owner text,
                taken_at timestamptz
            )
            """,
            "CREATE INDEX run_permits_by_owner ON run_permits (owner) WHERE owner IS NOT NULL",
        ]),
    ]

    /// The newest version this build knows.
    static var currentVersion: Int { migrations.map(\.version).max() ?? 0 }

    /// An arbitrary constant: the advisory lock instances migrate under.
    static let migrationLockKey = 0x4C41_4221

    /// Applies the missing migrations, or throws `newerSchema` for a database from a newer build.
    static func migrate(_ connection: PostgresConnection, url: PostgresURL, logger: Logger) async throws {
        try await connection.withTransaction(logger: logger) { connection in
            try await connection.execute("SELECT pg_advisory_xact_lock(\(migrationLockKey))", logger: logger)
            try await connection.execute(
                """
                CREATE TABLE IF NOT EXISTS schema_versions (
                    version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
                """, logger: logger)
            var applied: Set<Int> = []
            for try await version in try await connection.query("SELECT version FROM schema_versions", logger: logger)
                .decode(Int.self)
            {
                applied.insert(version)
            }
            if let newest = applied.max(), newest > currentVersion {
                throw RunStoreError(
                    kind: .newerSchema, path: url.redacted,
                    detail: "schema version \(newest), this build knows \(currentVersion)")
            }
            for migration in migrations where !applied.contains(migration.version) {
                for statement in migration.sql {
                    try await connection.execute(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.execute(
                    "INSERT INTO schema_versions (version, name) VALUES (\(migration.version), \(migration.name))",
                    logger: logger)
                logger.notice("run store migrated", metadata: ["version": "\(migration.version)", "store": "\(url.redacted)"])
            }
        }
    }
}
