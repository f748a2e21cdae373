import Foundation
import Patterns
import Synchronization
@testable import Runs
import Testing

/// A burst of requests for a run that is not in memory (its stream opened by many clients at
/// once, on an instance that does not run it) costs the store one lookup, not one per request.
@Suite struct RegistryLookupTests {
    @Test func concurrentRequestsForAStoredRun_shareOneLookup() async throws {
        var runs = RunFactory()
        let record = runs.finished()
        let store = GatedStore()
        store.inner.save(record, events: RunFactory.events(of: record))
        let registry = RunRegistry(catalog: PatternCatalog(), store: store)
        let requests = 50
        let logs = try await withThrowingTaskGroup(of: EventLog.self) { group in
            for _ in 0..<requests { group.addTask { try await registry.eventLog(id: record.id) } }
            // Every request but the first has joined the first one's lookup, held at the store.
            var turns = 0
            while await registry.joinedLookups < requests - 1 {
                turns += 1
                #expect(turns < 1_000_000, "the requests did not join one lookup")
                if turns >= 1_000_000 { break }
                await Task.yield()
            }
            store.gate.fire()
            return try await group.reduce(into: [EventLog]()) { $0.append($1) }
        }
        #expect(store.lookups.load(ordering: .relaxed) == 1)
        #expect(logs.count == requests)
        #expect(logs.allSatisfy { $0 === logs[0] })
        #expect(logs[0].allEvents == RunFactory.events(of: record))
        // Once answered, a later request looks again (a run's log is not cached here).
        _ = try await registry.eventLog(id: record.id)
        #expect(store.lookups.load(ordering: .relaxed) == 2)
    }

    @Test func aRunTheStoreDoesNotHave_isNotFound_forEveryRequestOfTheBurst() async throws {
        let store = GatedStore()
        store.gate.fire()
        let registry = RunRegistry(catalog: PatternCatalog(), store: store)
        await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<10 {
                group.addTask {
                    do {
                        _ = try await registry.eventLog(id: "01KNOWNNOTHING0000000000000")
                        return false
                    } catch {
                        if case RunsError.runNotFound = error { return true }
                        return false
                    }
                }
            }
            for await notFound in group { #expect(notFound) }
        }
    }
}

/// An in-memory store whose event reads wait for `gate`, counting them.
private final class GatedStore: RunStore {
    let inner = InMemoryRunStore()
    let gate = OneShotSignal()
    let lookups = Atomic<Int>(0)

    func save(_ record: RunRecord, events: [StoredEvent]?) { inner.save(record, events: events) }
    func record(id: String) async throws -> RunRecord? { try await inner.record(id: id) }
    func events(runID: String) async throws -> [StoredEvent]? {
        lookups.add(1, ordering: .relaxed)
        await gate.wait()
        return try await inner.events(runID: runID)
    }
    func list(_ query: RunQuery) async throws -> RunPage { try await inner.list(query) }
    func markInterrupted(at date: Date, links: RunLinks) async throws -> Int { try await inner.markInterrupted(at: date, links: links) }
    func flush() async {}
    func run() async {}
    func shutdown() async {}
    var isHealthy: Bool { true }
}
