import Foundation
import Patterns
@testable import Runs
import Testing

/// The registry's scenarios on every store, with both service loops running as the server runs
/// them, and restarts on the same data where the store has any.
@Suite struct RegistryOnStoreTests {
    @Test(arguments: StoreKind.allCases)
    func registry_savesEachFinishedRunWithItsEvents(_ kind: StoreKind) async throws {
        try await StoreFixture.with(kind) { fixture in
            try await fixture.withRegistry { registry, store throws in
                var runs: [LiveRun] = []
                for _ in 0..<3 {
                    let live = try await registry.launch(pattern: "gather", parameters: quick)
                    await live.finished.wait()
                    runs.append(live)
                }
                await store.flush()
                for live in runs {
                    let record = try #require(try await store.record(id: live.id))
                    #expect(record.apiJSON == live.snapshot().apiJSON)
                    #expect(record.status == .succeeded)
                    #expect(try await store.events(runID: live.id) == live.log.allEvents)
                }
            }
        }
    }

    @Test(arguments: StoreKind.allCases)
    func registry_shutdownSavesActiveRunsCancelled(_ kind: StoreKind) async throws {
        try await StoreFixture.with(kind) { fixture in
            let (id, first) = try await fixture.withRegistry { registry, store in
                (try await registry.launch(pattern: "gather", parameters: ["count": .json(2), "delay_ms": .json(60_000)]).id, store)
            }
            // Read back by a new store on the same data (the in-memory store has no other).
            try await fixture.withRegistry(on: kind == .memory ? first : try await fixture.open()) { _, store throws in
                #expect(try await store.record(id: id)?.status == .cancelled)
                #expect(try await store.events(runID: id)?.last?.name == "run.finished")
            }
        }
    }

    @Test(arguments: StoreKind.allCases)
    func registry_listsNewestFirstInStableCursorPages(_ kind: StoreKind) async throws {
        try await StoreFixture.with(kind) { fixture in
            try await fixture.withRegistry { registry, _ throws in
                var launched: [String] = []
                for _ in 0..<7 {
                    let live = try await registry.launch(pattern: "gather", parameters: quick)
                    await live.finished.wait()
                    launched.append(live.id)
                }
                var seen: [String] = []
                var cursor: String?
                repeat {
                    let page = try await registry.list(RunQuery(limit: 3, before: cursor))
                    seen += page.runs.map(\.id)
                    cursor = page.nextCursor
                } while cursor != nil
                #expect(seen == launched.reversed())
            }
        }
    }

    @Test(arguments: StoreKind.persistent)
    func registry_afterRestart_servesStoredRunsAndReplaysTheirEvents(_ kind: StoreKind) async throws {
        try await StoreFixture.with(kind) { fixture in
            let first = try await fixture.withRegistry { registry, _ in
                let live = try await registry.launch(pattern: "gather", parameters: quick)
                await live.log.waitUntilFinished()
                return (live.snapshot(), live.log.allEvents)
            }
            try await fixture.withRegistry { registry, store throws in
                #expect(try await store.markInterrupted(at: Date()) == 0)
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
    }

    /// A process that dies mid-run leaves the run `running` in the store: the next start marks
    /// it interrupted, and its event stream replays to a terminal event.
    @Test(arguments: StoreKind.persistent)
    func runInFlightWhenTheProcessDied_isInterruptedAtTheNextStart(_ kind: StoreKind) async throws {
        try await StoreFixture.with(kind) { fixture in
            try await fixture.withRegistry { registry, dying throws in
                let live = try await registry.launch(pattern: "gather", parameters: ["count": .json(1), "delay_ms": .json(60_000)])
                await dying.flush()  // the start is stored; the end never will be before the restart

                let restarted = try await fixture.open()
                #expect(try await restarted.markInterrupted(at: Date()) == 1)
                try await fixture.withRegistry(on: restarted) { next, _ throws in
                    #expect(try await next.record(id: live.id).status == .interrupted)
                    let replay = try await next.eventLog(id: live.id)
                    #expect(replay.isFinished)
                    #expect(replay.allEvents.last?.name == "run.finished")
                }
            }
        }
    }

    private var quick: [String: RawParameter] { ["count": .json(3), "delay_ms": .json(0)] }
}

extension StoreFixture {
    /// A registry on a store of the fixture (a new one, or `given`), both service loops running
    /// during `body`, then shut down in the server's order: the registry (its runs saved), then
    /// the store.
    func withRegistry<T: Sendable>(
        on given: (any RunStore)? = nil, _ body: (RunRegistry, any RunStore) async throws -> T
    ) async throws -> T {
        let store = if let given { given } else { try await open() }
        let registry = RunRegistry(catalog: PatternCatalog(limits: .defaults), store: store, cluster: store as? any RunCluster)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await store.run() }
            group.addTask { await registry.run() }
            do {
                let value = try await body(registry, store)
                await registry.shutdown()
                await store.shutdown()
                try await group.waitForAll()
                return value
            } catch {
                await registry.shutdown()
                await store.shutdown()
                throw error
            }
        }
    }
}
