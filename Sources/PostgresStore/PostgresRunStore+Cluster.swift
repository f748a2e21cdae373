import Patterns
import PostgresNIO
import Runs

/// The sharing side: publishing this instance's runs, following and cancelling the others'.
extension PostgresRunStore {
    public func publish(runID: String, log: EventLog, snapshot: @escaping @Sendable () -> RunRecord?) {
        tails.add(runID: runID, log: log, snapshot: snapshot) { [buffer] in buffer.nudge() }
    }

    /// Waits for the writer's next batch, which holds the run's first save (at most about one
    /// `batchInterval` plus a commit, a few ms when idle); at once when the store is failing.
    public func waitUntilVisible(runID: String) async {
        guard isHealthy, buffer.isWriterRunning, buffer.lookup(runID) != nil, let target = buffer.flushTarget() else { return }
        await buffer.waitForAttempt(target)
    }

    public func follow(runID: String) async throws -> EventLog {
        let (log, isNew) = mirrors.mirror(of: runID)
        if isNew { try await fetchOrThrow(runID, into: log) }
        return log
    }

    public func followed(runID: String) -> EventLog? {
        mirrors.existing(runID)
    }

    public func requestCancel(runID: String) async throws {
        _ = try await reading { client in
            try await client.execute("SELECT pg_notify(\(StoreListener.cancelChannel), \(runID))")
        }
    }

    public var cancelRequests: AsyncStream<String> { cancels.stream }

    /// What the listener's notifications do.
    func listenerHandlers() -> StoreListener.Handlers {
        StoreListener.Handlers(
            batchCommitted: { [weak self] runID, lastEventID in
                self?.state.withLock { $0.statistics.notificationsReceived += 1 }
                self?.mirrors.notified(runID: runID, lastEventID: lastEventID)
            },
            cancelRequested: { [weak self] runID in
                self?.state.withLock { $0.statistics.cancelRequestsReceived += 1 }
                self?.cancels.continuation.yield(runID)
            },
            connected: { [weak self] afterOutage in self?.listenerConnected(afterOutage: afterOutage) },
            lost: { [weak self] error in self?.listenerLost(error) })
    }

    private func listenerConnected(afterOutage: Bool) {
        let wasDown = state.withLock { state in
            defer { state.listenerDown = false }
            return state.listenerDown
        }
        listening.fire()
        // Notifications sent before now were not heard: fetch what the followers may have missed.
        mirrors.refetchAll()
        guard afterOutage else { return }
        // The database is back: a fresh pool (the old one may be deep in its backoff), and the
        // writer at once.
        clients.replace()
        let signal = reconnected.withLock { signal in
            defer { signal = OneShotSignal() }
            return signal
        }
        signal.fire()
        buffer.nudge()
        if wasDown { logger.notice("run store reachable again", metadata: ["store": "\(url.redacted)"]) }
    }

    private func listenerLost(_ error: RunStoreError) {
        state.withLock { $0.listenerDown = true }
        logger.error("run store unreachable; runs go on and are written when it is back", metadata: ["error": "\(error)"])
    }

    /// Fills a follower's log with what the store has after its last event; closes it when the
    /// run ended and everything is there (or the run is gone). Failures wait for the next
    /// notification, or for the listener's reconnect, which refetches every follower.
    func fetch(_ runID: String, into log: EventLog) async {
        do {
            try await fetchOrThrow(runID, into: log)
        } catch {
            logger.warning("could not fetch a followed run's events", metadata: ["run": "\(runID)", "error": "\(error)"])
        }
    }

    private func fetchOrThrow(_ runID: String, into log: EventLog) async throws {
        state.withLock { $0.statistics.mirrorFetches += 1 }
        var after = log.count
        while !log.isFinished {
            let from = after
            let page = try await reading { client in try await Self.eventsPage(client, runID: runID, after: from) }
            log.replicate(page.events)
            if page.events.count < Self.fetchPageSize {
                if !page.runExists || (page.eventCount.map { log.count >= $0 } ?? false) { log.close() }
                return
            }
            after = log.count
        }
    }

    static let fetchPageSize = 5_000

    private struct EventsPage: Sendable {
        var events: [StoredEvent] = []
        var runExists = false
        var eventCount: Int?
    }

    /// One query: the run's completion marker and its events after `after`.
    private static func eventsPage(_ client: PostgresClient, runID: String, after: Int) async throws -> EventsPage {
        let rows = try await client.query(
            """
            SELECT r.event_count, e.id, e.name, e.data FROM runs r
            LEFT JOIN LATERAL (SELECT id, name, data FROM events WHERE run_id = r.id AND id > \(after)
                ORDER BY id LIMIT \(fetchPageSize)) e ON true
            WHERE r.id = \(runID) ORDER BY e.id
            """)
        var page = EventsPage()
        for try await (count, id, name, data) in rows.decode((Int?, Int?, String?, ByteBuffer?).self) {
            page.runExists = true
            page.eventCount = count
            if let id, let name, let data { page.events.append(StoredEvent(id: id, name: name, data: Array(data.readableBytesView))) }
        }
        return page
    }
}
