import Foundation
import Logging
import Patterns
import PostgresNIO
import Runs
import Synchronization

/// The run store on PostgreSQL, shared by every instance that opens the same database: run
/// history, and (as a `RunCluster`) the live events, progress and cancel requests of runs
/// executing on any of them.
///
/// Writes never block a run: saves go to a bounded buffer (`WriteBuffer`, the SQLite store's),
/// live events stay in their run's log until the writer takes them. One writer commits one
/// transaction at a time (group commit, spaced as `Options.batchInterval` says): the runs saved
/// since the last one in one multi-row upsert, every live run's new events in one multi-row insert, then `NOTIFY` with
/// each run's id and last event id. Reads look in the buffer first, then the database.
///
/// Lifecycle, for the server:
/// 1. `let store = try await PostgresRunStore.open(url:options:)`: connects once, applies the
///    migrations (refusing a newer schema) and registers the instance; throws `RunStoreError`
///    (unreachable, refused credentials, no such database, newer schema): print it, exit 2;
/// 2. `try await store.markInterrupted(at:links:)`, before any run starts;
/// 3. run `store.run()` (the pool, the writer, the listener, the fetches) as a child task;
/// 4. at shutdown, after the registry's: `await store.shutdown()`.
///
/// When the database goes away the server runs on: runs are served from memory, reads that need
/// the database throw (503), `isHealthy` is false, and the listener reconnects within about two
/// seconds of the database's return (then the writer writes what waited). Up to
/// `Options.maxPendingRuns` unsaved runs wait in the buffer; past it the oldest are dropped (logged).
public final class PostgresRunStore: RunStore, RunCluster {
    /// Everything the store is told at open.
    public struct Options: Sendable {
        /// The name this instance restarts under: at start it marks `interrupted` the runs its
        /// earlier processes of the same name left in flight. nil: this process only (no takeover).
        public var instanceName: String?
        /// Where the instance serves (for the `instances` table).
        public var address: String
        public var retention: RunRetention
        /// Unsaved runs kept while the database fails or lags; past it the oldest are dropped.
        public var maxPendingRuns: Int
        /// The most time between the starts of two commits while work waits: what arrives during
        /// a commit joins the next one, which starts after the previous one's own duration
        /// (at least `minBatchSpacing`, at most this). Idle, a live event waits at most
        /// `minBatchSpacing` plus a commit; loaded, batches grow and the database's writes take
        /// at most about half of its time.
        public var batchInterval: Duration
        /// The least time between the starts of two commits.
        public var minBatchSpacing: Duration
        /// How long a read or a write may wait for the database before it fails.
        public var queryTimeout: Duration
        public var connectTimeout: Duration
        /// Connections of the pool (the listener has one more of its own).
        public var maxConnections: Int
        /// A follower of a remote run that falls this many events behind is cut (as a local one).
        public var subscriberMaxLag: Int
        /// How long this instance stays presumed alive after its last heartbeat (it renews every
        /// third of it); past it, by the database's clock, a surviving instance interrupts its runs.
        public var lease: Duration
        /// How often the lease is renewed (and the reaper runs): nil, a third of the lease. Tests
        /// make a stalled instance with a renewal far longer than its lease.
        public var renewalInterval: Duration?
        /// Runs active at once across every instance sharing the database (`run_permits`);
        /// nil: no cluster bound.
        public var clusterMaxConcurrentRuns: Int?

        public init(
            instanceName: String? = nil, address: String = "", retention: RunRetention = RunRetention(),
            maxPendingRuns: Int = 2_000, batchInterval: Duration = .milliseconds(50),
            minBatchSpacing: Duration = .milliseconds(5), queryTimeout: Duration = .seconds(5),
            connectTimeout: Duration = .seconds(5), maxConnections: Int = 8, subscriberMaxLag: Int = 100_000,
            lease: Duration = .seconds(10), renewalInterval: Duration? = nil, clusterMaxConcurrentRuns: Int? = nil
        ) {
            self.lease = lease
            self.renewalInterval = renewalInterval
            self.clusterMaxConcurrentRuns = clusterMaxConcurrentRuns
            self.instanceName = instanceName
            self.address = address
            self.retention = retention
            self.maxPendingRuns = maxPendingRuns
            self.batchInterval = batchInterval
            self.minBatchSpacing = min(minBatchSpacing, batchInterval)
            self.queryTimeout = queryTimeout
            self.connectTimeout = connectTimeout
            self.maxConnections = maxConnections
            self.subscriberMaxLag = subscriberMaxLag
        }

        /// The time from a commit's start to the next one's: the last commit's duration,
        /// within `minBatchSpacing...batchInterval`.
        func spacing(afterCommitOf duration: Duration) -> Duration {
            min(batchInterval, max(minBatchSpacing, duration))
        }
    }

    public let url: PostgresURL
    public let options: Options
    /// This process's id in `instances`: the `owner` of the runs it executes.
    public let instanceID: String
    let logger: Logger
    let now: @Sendable () -> Date
    let clients: PostgresClients
    let buffer: WriteBuffer
    let tails = LiveTails()
    let mirrors: RunMirrors
    /// One transaction at a time: the writer loop's and a `flush` that drains itself.
    let writeLock = AsyncLock()
    let stopRequested = OneShotSignal()
    let writerEnded = OneShotSignal()
    /// Fires when the lease loop has ended: the pool it uses may stop only then.
    let leaseEnded = OneShotSignal()
    /// Fires when the listener first connects.
    let listening = OneShotSignal()
    /// Fired when the database is back after an outage: cuts the writer's backoff short.
    let reconnected = Mutex<OneShotSignal>(OneShotSignal())
    let state = Mutex(State())
    let cancels: (stream: AsyncStream<String>, continuation: AsyncStream<String>.Continuation)
    /// Runs of this instance another marked `interrupted` (fencing): the registry cancels them.
    let lost: (stream: AsyncStream<String>, continuation: AsyncStream<String>.Continuation)
    let listener: StoreListener

    struct State {
        var listenerDown = false
        var statistics = ClusterStatistics()
        /// The links of the runs this server serves (given at `markInterrupted`): the reaper's
        /// `run.finished` events carry them.
        var links = RunLinks.none
        /// Permits in use cluster-wide, as of the last lease round.
        var permitsInUse = 0
        /// Whether the last lease round failed (logged once per outage).
        var leaseFailing = false
    }

    /// What the sharing side has done, for tests and metrics.
    public struct ClusterStatistics: Sendable, Hashable {
        public var commits = 0
        public var notificationsReceived = 0
        public var mirrorFetches = 0
        public var cancelRequestsReceived = 0
        public var lostRuns = 0
        /// Lease rounds in which this instance's heartbeat committed.
        public var heartbeats = 0
        /// Dead instances this one reaped, and the runs it marked interrupted for them.
        public var instancesReaped = 0
        public var runsReaped = 0
        /// Launches refused because every cluster permit was taken.
        public var permitsRefused = 0
    }

    init(url: PostgresURL, options: Options, instanceID: String, logger: Logger, now: @escaping @Sendable () -> Date) {
        self.url = url
        self.options = options
        self.instanceID = instanceID
        self.logger = logger
        self.now = now
        let configuration = url.clientConfiguration(
            connectTimeout: options.connectTimeout, maximumConnections: options.maxConnections)
        clients = PostgresClients { PostgresClient(configuration: configuration) }
        buffer = WriteBuffer(maxPendingRuns: options.maxPendingRuns)
        mirrors = RunMirrors(maxLag: options.subscriberMaxLag)
        cancels = AsyncStream.makeStream(of: String.self)
        lost = AsyncStream.makeStream(of: String.self)
        listener = StoreListener(url: url, connectTimeout: options.connectTimeout, logger: logger)
    }

    /// Connects, migrates and registers this instance; the store is ready for `markInterrupted`
    /// and `run()`. Throws `RunStoreError` naming the database by its redacted URL.
    public static func open(
        url: PostgresURL, options: Options = Options(), logger: Logger = Logger(label: "store"),
        now: @escaping @Sendable () -> Date = { Date() }
    ) async throws(RunStoreError) -> PostgresRunStore {
        let instanceID = RunIDGenerator().next(millisecondsSinceEpoch: UInt64(now().timeIntervalSince1970 * 1000))
        do {
            try await withConnection(url, options.connectTimeout, logger) { connection in
                try await PostgresSchema.migrate(connection, url: url, logger: logger)
                try await connection.execute(
                    """
                    INSERT INTO instances (id, name, address, lease_ms)
                    VALUES (\(instanceID), \(options.instanceName ?? instanceID), \(options.address), \(InstanceLease.milliseconds(options.lease)))
                    """, logger: logger)
                if let slots = options.clusterMaxConcurrentRuns {
                    try await connection.execute(
                        "INSERT INTO run_permits (slot) SELECT generate_series(1, \(slots)) ON CONFLICT DO NOTHING", logger: logger)
                }
            }
        } catch {
            throw PostgresFailure.classify(error, url: url)
        }
        return PostgresRunStore(url: url, options: options, instanceID: instanceID, logger: logger, now: now)
    }

    /// Closes a connection that was made after its deadline had passed (nobody holds it).
    @Sendable static func closeLate(_ connection: PostgresConnection) {
        Task { try? await connection.close() }
    }

    /// One connection of its own for `body` (the pool runs only inside `run()`).
    static func withConnection<T: Sendable>(
        _ url: PostgresURL, _ timeout: Duration, _ logger: Logger, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let connection = try await withDeadline(timeout + .seconds(1), dispose: closeLate) {
            try await PostgresConnection.connect(
                configuration: try url.connectionConfiguration(connectTimeout: timeout), id: 0, logger: logger)
        }
        do {
            let value = try await withDeadline(.seconds(60)) { try await body(connection) }
            try? await connection.close()
            return value
        } catch {
            try? await connection.close()
            throw error
        }
    }

    // MARK: Reads

    public func save(_ record: RunRecord, events: [StoredEvent]?) {
        buffer.enqueue(PendingSave(record: record, events: events))
    }

    public func record(id: String) async throws -> RunRecord? {
        if let pending = buffer.lookup(id) { return pending.record }
        return try await reading { client in
            let rows = try await client.query("SELECT \(unescaped: PostgresRunRow.selection) FROM runs WHERE id = \(id)")
            var record: RunRecord?
            for try await row in rows { record = try PostgresRunRow.record(from: row) }
            return record
        }
    }

    public func events(runID: String) async throws -> [StoredEvent]? {
        if let events = buffer.lookup(runID)?.events { return events }
        return try await reading { client in
            let rows = try await client.query(
                """
                SELECT r.event_count, e.id, e.name, e.data FROM runs r LEFT JOIN events e ON e.run_id = r.id
                WHERE r.id = \(runID) ORDER BY e.id
                """)
            var events: [StoredEvent] = []
            var complete = false
            for try await (count, id, name, data) in rows.decode((Int?, Int?, String?, ByteBuffer?).self) {
                complete = count != nil
                if let id, let name, let data { events.append(StoredEvent(id: id, name: name, data: Array(data.readableBytesView))) }
            }
            // A run whose events are not all stored yet (it runs elsewhere) has none here yet.
            return complete ? events : nil
        }
    }

    /// Runs `body` on the pool within `queryTimeout`; a failure is a classified `RunStoreError`.
    func reading<T: Sendable>(_ body: @escaping @Sendable (PostgresClient) async throws -> T) async throws -> T {
        let client = clients.current
        // Known down: fail fast rather than wait for the pool to give up.
        let limit = state.withLock { $0.listenerDown } ? min(options.queryTimeout, .seconds(1)) : options.queryTimeout
        do {
            return try await withDeadline(limit) { try await body(client) }
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw PostgresFailure.classify(error, url: url)
        }
    }

    // MARK: Health

    /// False while the listener has lost the database or the last write failed.
    public var isHealthy: Bool { !state.withLock { $0.listenerDown } && !buffer.lastWriteFailed }

    /// Returns once the listener is connected (cancel requests sent before are not heard).
    public func waitUntilListening() async {
        await listening.wait()
    }

    public var statistics: RunStoreStatistics { buffer.statistics }
    public var clusterStatistics: ClusterStatistics { state.withLock { $0.statistics } }
}
