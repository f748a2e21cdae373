import Logging
import Patterns
import PostgresNIO
import Runs

/// The instance's one LISTEN connection: batches committed by owners (`lab_events`, payload
/// `RUN_ID:LAST_EVENT_ID`) and cancel requests (`lab_cancel`, payload `RUN_ID`), for every
/// subscriber of this instance at once.
///
/// It is a connection of its own, outside the pool, reconnecting on its own short backoff
/// (0.1 s doubling to 2 s): it is how the store learns that the database went away (the server
/// closes it) and that it came back. Notifications sent while it was away are lost; on every
/// reconnect the store fetches whatever its followers may have missed.
final class StoreListener: Sendable {
    struct Handlers: Sendable {
        var batchCommitted: @Sendable (_ runID: String, _ lastEventID: Int) -> Void
        var cancelRequested: @Sendable (_ runID: String) -> Void
        /// `afterOutage` is false for the first connection.
        var connected: @Sendable (_ afterOutage: Bool) -> Void
        var lost: @Sendable (RunStoreError) -> Void
    }

    static let eventsChannel = "lab_events"
    static let cancelChannel = "lab_cancel"

    let url: PostgresURL
    let connectTimeout: Duration
    let logger: Logger
    private let stopped = OneShotSignal()

    init(url: PostgresURL, connectTimeout: Duration, logger: Logger) {
        self.url = url
        self.connectTimeout = connectTimeout
        self.logger = logger
    }

    /// Listens until `stop()`, reconnecting whenever the connection is lost.
    func run(_ handlers: Handlers) async {
        var failures = 0
        var connectedBefore = false
        while !stopped.isFired {
            do {
                let connection = try await withDeadline(connectTimeout + .seconds(1), dispose: PostgresRunStore.closeLate) { [self] in
                    try await PostgresConnection.connect(
                        configuration: try url.connectionConfiguration(connectTimeout: connectTimeout),
                        id: 0, logger: logger)
                }
                failures = 0
                try await listen(on: connection, afterOutage: connectedBefore, handlers)
                connectedBefore = true
            } catch {
                guard !stopped.isFired else { break }
                if failures == 0 { handlers.lost(PostgresFailure.classify(error, url: url)) }
                failures += 1
                connectedBefore = true
            }
            guard !stopped.isFired else { break }
            _ = await stopped.wait(timeout: .milliseconds(min(2_000, 100 << min(failures, 5))))
        }
    }

    func stop() { stopped.fire() }

    /// Listens on `connection` until it ends (throwing why) or `stop()`; closes it.
    private func listen(on connection: PostgresConnection, afterOutage: Bool, _ handlers: Handlers) async throws {
        do {
            try await connection.listen(on: Self.eventsChannel) { events in
                try await connection.listen(on: Self.cancelChannel) { cancels in
                    handlers.connected(afterOutage)
                    try await consume(events, cancels, handlers)
                }
            }
        } catch {
            try? await connection.close()
            throw error
        }
        try? await connection.close()
    }

    private func consume(
        _ events: PostgresNotificationSequence, _ cancels: PostgresNotificationSequence, _ handlers: Handlers
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for try await notification in events {
                    let parts = notification.payload.split(separator: ":")
                    guard parts.count == 2, let last = Int(parts[1]) else { continue }
                    handlers.batchCommitted(String(parts[0]), last)
                }
                throw ConnectionEnded()
            }
            group.addTask {
                for try await notification in cancels { handlers.cancelRequested(notification.payload) }
                throw ConnectionEnded()
            }
            group.addTask { [stopped] in await stopped.wait() }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    private struct ConnectionEnded: Error, CustomStringConvertible {
        var description: String { "the database closed the listening connection" }
    }
}
