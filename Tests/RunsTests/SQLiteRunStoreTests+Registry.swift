import Foundation
import Patterns
@testable import Runs
import Testing

/// The registry's scenarios on the SQLite store, with both service loops running as the
/// server runs them, and restarts on the same file.
extension SQLiteRunStoreTests {
    @Test func registry_savesEachFinishedRunWithItsEvents() async throws {
        let store = try SQLiteRunStore(path: ":memory:")
        let finished = try await withRegistry(store) { registry in
            var runs: [LiveRun] = []
            for _ in 0..<3 {
                let live = try await registry.launch(pattern: "gather", parameters: quick)
                await live.finished.wait()
                runs.append(live)
            }
            return runs
        }
        for live in finished {
            let record = try #require(try await store.record(id: live.id))
            #expect(record.apiJSON == live.snapshot().apiJSON)
            #expect(record.status == .succeeded)
            #expect(try await store.events(runID: live.id) == live.log.allEvents)
        }
    }

    @Test func registry_shutdownSavesActiveRunsCancelled() async throws {
        let store = try SQLiteRunStore(path: ":memory:")
        let id = try await withRegistry(store) { registry in
            try await registry.launch(pattern: "gather", parameters: ["count": .json(2), "delay_ms": .json(60_000)]).id
        }
        #expect(try await store.record(id: id)?.status == .cancelled)
        #expect(try await store.events(runID: id)?.last?.name == "run.finished")
    }

    @Test func registry_listsNewestFirstInStableCursorPages() async throws {
        let store = try SQLiteRunStore(path: ":memory:")
        let (launched, listed) = try await withRegistry(store) { registry in
            var ids: [String] = []
            for _ in 0..<7 {
                let live = try await registry.launch(pattern: "gather", parameters: quick)
                await live.finished.wait()
                ids.append(live.id)
            }
            var seen: [String] = []
            var cursor: String?
            repeat {
                let page = try await registry.list(RunQuery(limit: 3, before: cursor))
                seen += page.runs.map(\.id)
                cursor = page.nextCursor
            } while cursor != nil
            return (ids, seen)
        }
        #expect(listed == launched.reversed())
    }

    @Test func registry_afterRestart_servesStoredRunsAndReplaysTheirEvents() async throws {
        let first = try await withRegistry(try SQLiteRunStore(path: file)) { registry in
            let live = try await registry.launch(pattern: "gather", parameters: quick)
            await live.log.waitUntilFinished()
            return (live.snapshot(), live.log.allEvents)
        }

        let store = try SQLiteRunStore(path: file)
        #expect(try await store.markInterrupted(at: Date()) == 0)
        try await withRegistry(store) { registry async throws in
            #expect(await registry.live(id: first.0.id) == nil)  // so what follows is the store's
            #expect(try await registry.record(id: first.0.id).apiJSON == first.0.apiJSON)
            #expect(try await registry.eventLog(id: first.0.id).allEvents == first.1)
            do {
                _ = try await registry.cancel(id: first.0.id)
                Issue.record("cancelling a stored run that ended should be refused")
            } catch {
                guard case .alreadyEnded(let record)? = error as? RunsError else {
                    Issue.record("expected alreadyEnded, got \(error)")
                    return
                }
                #expect(record.status == .succeeded)
            }
        }
    }

    /// A process that dies mid-run leaves the run `running` in the file: the next start marks
    /// it interrupted, and its event stream replays to a terminal event.
    @Test func runInFlightWhenTheProcessDied_isInterruptedAtTheNextStart() async throws {
        let dying = try SQLiteRunStore(path: file)
        let registry = RunRegistry(catalog: PatternCatalog(limits: .defaults), store: dying)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await registry.run() }
            let live = try await registry.launch(pattern: "gather", parameters: ["count": .json(1), "delay_ms": .json(60_000)])
            await dying.flush()  // the start is in the file; the end never will be

            let restarted = try SQLiteRunStore(path: file)
            #expect(try await restarted.markInterrupted(at: Date()) == 1)
            let next = RunRegistry(catalog: PatternCatalog(limits: .defaults), store: restarted)
            #expect(try await next.record(id: live.id).status == .interrupted)
            let replay = try await next.eventLog(id: live.id)
            #expect(replay.isFinished)
            #expect(replay.allEvents.last?.name == "run.finished")
            await registry.shutdown()
            try await group.waitForAll()
        }
    }

    private var quick: [String: RawParameter] { ["count": .json(3), "delay_ms": .json(0)] }

    /// A registry on `store`, with the registry's and the store's loops running during `body`,
    /// then shut down in the server's order: the registry (its runs saved), then the store.
    private func withRegistry<T: Sendable>(
        _ store: SQLiteRunStore, _ body: (RunRegistry) async throws -> T
    ) async throws -> T {
        let registry = RunRegistry(catalog: PatternCatalog(limits: .defaults), store: store)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await store.run() }
            group.addTask { await registry.run() }
            let value = try await body(registry)
            await registry.shutdown()
            await store.shutdown()
            try await group.waitForAll()
            return value
        }
    }
}
