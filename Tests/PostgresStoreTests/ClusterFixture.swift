import Foundation
import LabJSON
import Patterns
import PostgresStore
import Runs
import TestSupport

/// Two or more stores on one fresh database, as two instances would open it, each with its
/// service loop running while the test body runs.
struct ClusterFixture: Sendable {
    let database: TestDatabase
    let url: PostgresURL

    static func with<T: Sendable>(_ body: (ClusterFixture) async throws -> T) async throws -> T {
        try await TestDatabase.with { database in
            try await body(ClusterFixture(database: database, url: try PostgresURL(database.url)))
        }
    }

    func open(_ name: String) async throws -> PostgresRunStore {
        try await PostgresRunStore.open(url: url, options: .init(instanceName: name))
    }

    /// An instance with its own lease (and renewal, when it is to stall) and cluster bound.
    func open(_ name: String, lease: Duration, renewal: Duration? = nil, permits: Int? = nil) async throws -> PostgresRunStore {
        try await PostgresRunStore.open(
            url: url, options: .init(instanceName: name, lease: lease, renewalInterval: renewal, clusterMaxConcurrentRuns: permits))
    }

    /// Expires `store`'s lease by the database's clock: as if it had stalled for long.
    func expireLease(of store: PostgresRunStore) throws {
        try database.sql("UPDATE instances SET lease_ms = 100, heartbeat_at = now() - interval '1 second' WHERE id = '\(store.instanceID)'")
    }

    /// Runs the stores' service loops while `body` runs; shuts them down after.
    func running<T: Sendable>(_ stores: [PostgresRunStore], _ body: () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for store in stores { group.addTask { await store.run() } }
            for store in stores { await store.waitUntilListening() }
            do {
                let value = try await body()
                for store in stores { await store.shutdown() }
                try await group.waitForAll()
                return value
            } catch {
                for store in stores { await store.shutdown() }
                throw error
            }
        }
    }
}

/// A run as an owner publishes it: a live log, its record at start and at end.
struct PublishedRun: Sendable {
    let record: RunRecord
    let log = EventLog()

    init(id: String) {
        record = RunRecord(
            id: id, pattern: "periodic", params: ["interval_ms": 10], status: .running, createdAt: Date(),
            startedAt: Date(), durationMs: 0, progress: .init(completed: 0, total: 5))
    }

    /// Saves and publishes it on `owner`, as the registry does at launch.
    func launch(on owner: PostgresRunStore) {
        owner.save(record, events: nil)
        owner.publish(runID: record.id, log: log, snapshot: { [log, record] in
            var now = record
            now.progress.completed = log.count
            return now
        })
    }

    func tick(_ index: Int) {
        log.append(RunEvent(name: "tick", data: ["t_ms": .double(Double(index) * 10.5), "tick": .int(index), "note": "é \"quoted\""]))
    }

    /// Ends it on `owner`: `run.finished`, then the final save with every event.
    func finish(on owner: PostgresRunStore) {
        var ended = record
        ended.status = .succeeded
        ended.finishedAt = Date()
        ended.progress.completed = 5
        owner.save(ended, events: nil)
        log.finish(with: RunEvent(name: "run.finished", data: ended.json().objectValue ?? [:]))
        owner.save(ended, events: log.allEvents)
    }
}

/// Every event a log delivers until it finishes.
func collect(_ log: EventLog) async -> [StoredEvent] {
    var subscription = log.subscribe()
    var events: [StoredEvent] = []
    while case .events(let batch) = await subscription.next() { events += batch }
    return events
}

let runIDs = RunIDGenerator()

func newRunID() -> String {
    runIDs.next(millisecondsSinceEpoch: UInt64(Date().timeIntervalSince1970 * 1000))
}
