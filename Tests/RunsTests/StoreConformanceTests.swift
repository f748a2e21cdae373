import Foundation
import Patterns
import PostgresStore
@testable import Runs
import Testing
import TestSupport

/// The one behaviour every `RunStore` owes its callers, the same test code against the
/// in-memory, SQLite and PostgreSQL stores (each test once per kind; restarts and schemas
/// only where the store has them). Each store's own faults are in its own tests.
@Suite struct StoreConformanceTests {
    // MARK: Save, replace, get, events

    @Test(arguments: StoreKind.allCases)
    func finishedRun_readsBackWithResultChecksTimelineAndEvents(_ kind: StoreKind) async throws {
        try await StoreFixture.with(kind) { fixture in
            var runs = RunFactory()
            let record = runs.finished(status: .failed)
            let events = RunFactory.events(of: record)
            try await fixture.withStore { store throws in
                store.save(record, events: events)
                await store.flush()
                if let stored = try await fixture.storedRunCount() { #expect(stored == 1) }  // from the database

                let read = try #require(try await store.record(id: record.id))
                #expect(read.apiJSON == record.apiJSON)
                // Times come back within a microsecond (seconds since 1970); the API shows milliseconds.
                #expect(abs(read.createdAt.timeIntervalSince(record.createdAt)) < 1e-6)
                #expect(abs(try #require(read.finishedAt).timeIntervalSince(try #require(record.finishedAt))) < 1e-6)
                #expect(read.error == "task 1 failed: injected failure")
                #expect(read.checksPassed == false)
                #expect(read.timeline?["spans"]?.arrayValue?.count == 3)
                #expect(try await store.events(runID: record.id) == events)
                #expect(try await store.record(id: "01KNOWNNOTHING0000000000000") == nil)
                #expect(try await store.events(runID: "01KNOWNNOTHING0000000000000") == nil)
            }
        }
    }

    @Test(arguments: StoreKind.allCases)
    func laterSaveReplacesTheEarlier_andReadsSeeSavesBeforeTheyAreWritten(_ kind: StoreKind) async throws {
        try await StoreFixture.with(kind) { fixture in
            var runs = RunFactory()
            try await fixture.withStore { store throws in
                let started = runs.started()
                store.save(started, events: nil)
                #expect(try await store.record(id: started.id)?.status == .running)
                #expect(try await store.events(runID: started.id) == nil)  // not stored until it ends

                let ended = RunFactory.ended(started)
                let events = RunFactory.events(of: ended)
                store.save(ended, events: events)
                #expect(try await store.record(id: started.id)?.apiJSON == ended.apiJSON)
                #expect(try await store.events(runID: started.id) == events)
                #expect(try await store.list(RunQuery()).runs.map(\.status) == [.succeeded])

                await store.flush()
                if let stored = try await fixture.storedRunCount() { #expect(stored == 1) }
                #expect(try await store.record(id: started.id)?.apiJSON == ended.apiJSON)
                #expect(try await store.events(runID: started.id) == events)
                // A save without events keeps the events stored before.
                store.save(ended, events: nil)
                await store.flush()
                #expect(try await store.events(runID: started.id) == events)
            }
        }
    }

    @Test(arguments: StoreKind.allCases)
    func concurrentSaves_leaveEveryRunAtItsLastSave(_ kind: StoreKind) async throws {
        try await StoreFixture.with(kind) { fixture in
            let stored = try await fixture.withStore { store throws in
                await withTaskGroup(of: Void.self) { group in
                    for worker in 0..<16 {
                        group.addTask {
                            var runs = RunFactory()
                            for _ in 0..<40 {
                                let started = runs.started(pattern: "worker-\(worker)")
                                store.save(started, events: nil)
                                await Task.yield()
                                let ended = RunFactory.ended(started)
                                store.save(ended, events: RunFactory.events(of: ended))
                            }
                        }
                    }
                }
                await store.flush()
                return try await store.list(RunQuery(limit: 1_000)).runs
            }
            #expect(stored.count == 640)
            #expect(stored.allSatisfy { $0.status == .succeeded })
            #expect(Set(stored.map(\.id)).count == 640)
        }
    }

    // MARK: Listing

    @Test(arguments: StoreKind.allCases)
    func pages_haveNoDuplicatesOrGaps_whileNewRunsAreInserted(_ kind: StoreKind) async throws {
        try await StoreFixture.with(kind) { fixture in
            let (listed, seen) = try await fixture.withStore { store throws in
                var runs = RunFactory()
                var listed: [String] = []
                // Light records (no result or timeline): this is about ids, not payloads.
                for index in 0..<1_450 {
                    let record = runs.started()
                    store.save(record, events: nil)
                    listed.append(record.id)
                    if index.isMultiple(of: 500) { await store.flush() }  // several batches
                }
                await store.flush()
                for _ in 0..<50 {  // the newest still unwritten when the first page is read
                    let record = runs.started()
                    store.save(record, events: nil)
                    listed.append(record.id)
                }
                var seen: [String] = []
                var cursor: String?
                var page = 0
                repeat {
                    let result = try await store.list(RunQuery(limit: 97, before: cursor))
                    seen += result.runs.map(\.id)
                    cursor = result.nextCursor
                    // Between two pages runs start and end; the writer commits them whenever.
                    for _ in 0..<7 {
                        let started = runs.started()
                        store.save(started, events: nil)
                        store.save(RunFactory.ended(started), events: nil)
                    }
                    if page.isMultiple(of: 3) { await store.flush() }
                    page += 1
                } while cursor != nil
                return (listed, seen)
            }
            #expect(seen.count == 1_500)
            #expect(Set(seen).count == seen.count)
            #expect(seen == listed.reversed())
        }
    }

    @Test(arguments: StoreKind.allCases)
    func filtersByPatternAndStatus_newestFirst_withALastPage(_ kind: StoreKind) async throws {
        try await StoreFixture.with(kind) { fixture in
            try await fixture.withStore { store throws in
                var runs = RunFactory()
                let patterns = ["gather", "semaphore", "lock"]
                let statuses: [RunStatus] = [.succeeded, .failed, .cancelled, .succeeded]
                var saved: [RunRecord] = []
                for index in 0..<36 {
                    let record = runs.finished(pattern: patterns[index % 3], status: statuses[index % 4])
                    store.save(record, events: nil)
                    saved.append(record)
                }
                await store.flush()

                func all(_ query: RunQuery) async throws -> [String] {
                    var ids: [String] = []
                    var query = query
                    repeat {
                        let page = try await store.list(query)
                        #expect(page.runs.count <= query.limit)
                        ids += page.runs.map(\.id)
                        query.before = page.nextCursor
                    } while query.before != nil
                    return ids
                }
                let newestFirst = Array(saved.reversed())
                #expect(try await all(RunQuery(pattern: "semaphore", limit: 5)) == newestFirst.filter { $0.pattern == "semaphore" }.map(\.id))
                #expect(try await all(RunQuery(status: .failed, limit: 4)) == newestFirst.filter { $0.status == .failed }.map(\.id))
                #expect(
                    try await all(RunQuery(pattern: "lock", status: .succeeded, limit: 2))
                        == newestFirst.filter { $0.pattern == "lock" && $0.status == .succeeded }.map(\.id))
                #expect(try await store.list(RunQuery(pattern: "nope")).runs.isEmpty)
                let exact = try await store.list(RunQuery(pattern: "gather", limit: 12))
                #expect(exact.runs.count == 12)
                #expect(exact.nextCursor == nil)  // exactly a page left: no empty page after it
            }
        }
    }

    @Test(arguments: StoreKind.allCases)
    func filters_seeTheUnsavedStateOfARun(_ kind: StoreKind) async throws {
        try await StoreFixture.with(kind) { fixture in
            try await fixture.withStore { store throws in
                var runs = RunFactory()
                let started = runs.started()
                store.save(started, events: nil)
                await store.flush()  // the database says running
                store.save(RunFactory.ended(started), events: nil)  // the buffer says succeeded

                #expect(try await store.list(RunQuery(status: .running)).runs.isEmpty)
                #expect(try await store.list(RunQuery(status: .succeeded)).runs.map(\.status) == [.succeeded])
            }
        }
    }

    // MARK: Retention

    @Test(arguments: StoreKind.allCases)
    func retention_keepsTheNewestRuns_andDeletesTheOthersWithTheirEvents(_ kind: StoreKind) async throws {
        try await StoreFixture.with(kind) { fixture in
            var runs = RunFactory()
            let saved = (0..<8).map { _ in runs.finished() }
            try await fixture.withStore(retention: RunRetention(keepRuns: 5)) { store throws in
                for record in saved { store.save(record, events: RunFactory.events(of: record)) }
                await store.flush()
                #expect(try await store.list(RunQuery()).runs.map(\.id) == saved.suffix(5).reversed().map(\.id))
                for record in saved.prefix(3) {
                    #expect(try await store.record(id: record.id) == nil)
                    #expect(try await store.events(runID: record.id) == nil)
                }
                for record in saved.suffix(5) { #expect(try await store.events(runID: record.id) == RunFactory.events(of: record)) }
            }
        }
    }

    @Test(arguments: StoreKind.allCases)
    func retention_deletesRunsOlderThanKeepDays_butNeverARunInFlight(_ kind: StoreKind) async throws {
        try await StoreFixture.with(kind) { fixture in
            let now = Date(timeIntervalSince1970: 1_780_000_000)
            var runs = RunFactory()
            let old = runs.finished(createdAt: now.addingTimeInterval(-9 * 86_400))
            let oldInFlight = runs.started(createdAt: now.addingTimeInterval(-8 * 86_400))
            let recent = runs.finished(createdAt: now.addingTimeInterval(-6 * 86_400))
            let fresh = runs.finished(createdAt: now.addingTimeInterval(-60))
            try await fixture.withStore(retention: RunRetention(keepDays: 7), now: { now }) { store throws in
                store.save(oldInFlight, events: nil)
                for record in [old, recent, fresh] { store.save(record, events: RunFactory.events(of: record)) }
                await store.flush()
                #expect(try await store.list(RunQuery()).runs.map(\.id) == [fresh.id, recent.id, oldInFlight.id])
                #expect(try await store.events(runID: old.id) == nil)
            }
        }
    }

    // MARK: Restarts (stores whose data outlives them)

    @Test(arguments: StoreKind.persistent)
    func reopenedStore_hasTheRunsAndEventsOfThePreviousOne(_ kind: StoreKind) async throws {
        try await StoreFixture.with(kind) { fixture in
            var runs = RunFactory()
            let finished = (0..<3).map { _ in runs.finished() }
            // Only the writer loop and shutdown write here: no flush.
            try await fixture.withStore { store throws in
                for record in finished { store.save(record, events: RunFactory.events(of: record)) }
            }
            try await fixture.withStore { reopened throws in
                for record in finished {
                    #expect(try await reopened.record(id: record.id)?.apiJSON == record.apiJSON)
                    #expect(try await reopened.events(runID: record.id) == RunFactory.events(of: record))
                }
                #expect(try await reopened.list(RunQuery()).runs.map(\.id) == finished.map(\.id).reversed())
            }
        }
    }

    @Test(arguments: StoreKind.persistent)
    func markInterrupted_endsOnlyTheRunsLeftInFlight(_ kind: StoreKind) async throws {
        try await StoreFixture.with(kind) { fixture in
            var runs = RunFactory()
            let running = runs.started()
            var queued = runs.started()
            queued.status = .queued
            let succeeded = runs.finished()
            let cancelled = runs.finished(status: .cancelled)
            try await fixture.withStore { first in
                for record in [running, queued] { first.save(record, events: nil) }
                for record in [succeeded, cancelled] { first.save(record, events: RunFactory.events(of: record)) }
                await first.flush()
            }
            try await fixture.withStore { restarted throws in
                let foundAt = Date(timeIntervalSince1970: 1_780_000_500.25)
                #expect(try await restarted.markInterrupted(at: foundAt) == 2)
                for id in [running.id, queued.id] {
                    let record = try #require(try await restarted.record(id: id))
                    #expect(record.status == .interrupted)
                    #expect(record.finishedAt == foundAt)
                    #expect(record.error == "the server stopped while this run was in flight")
                    // Its event stream ends like any other: with run.finished carrying the run.
                    let events = try #require(try await restarted.events(runID: id))
                    #expect(events.map(\.name) == ["run.finished"])
                    #expect(events.first?.dataText.contains("\"status\":\"interrupted\"") == true)
                }
                for record in [succeeded, cancelled] {
                    #expect(try await restarted.record(id: record.id)?.apiJSON == record.apiJSON)
                    #expect(try await restarted.events(runID: record.id) == RunFactory.events(of: record))
                }
                #expect(try await restarted.markInterrupted(at: foundAt) == 0)
            }
        }
    }

    @Test(arguments: StoreKind.persistent)
    func newerSchema_isRefusedAtOpen_namingTheStore(_ kind: StoreKind) async throws {
        try await StoreFixture.with(kind) { fixture in
            try await fixture.withStore { _ in }
            try await fixture.plantNewerSchema()
            do {
                _ = try await fixture.open()
                Issue.record("a store written by a newer build opened")
            } catch let error as RunStoreError {
                #expect(error.kind == .newerSchema)
                #expect(error.description.contains(fixture.location))
                #expect(error.description.contains("newer version"))
            }
        }
    }
}
