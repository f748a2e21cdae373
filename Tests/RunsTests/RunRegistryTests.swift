import Foundation
import LabJSON
import Patterns
import Runs
import Testing

@Suite struct RunRegistryTests {
    /// A registry whose service loop runs for the duration of `body`, then shuts down.
    private func withRegistry<T: Sendable>(
        _ configuration: RunsConfiguration = RunsConfiguration(), store: any RunStore = InMemoryRunStore(),
        links: RunLinks = .none, _ body: (RunRegistry) async throws -> T
    ) async throws -> T {
        let registry = RunRegistry(
            catalog: PatternCatalog(limits: configuration.limits), configuration: configuration, store: store, links: links)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                await registry.run()
                return nil
            }
            let value = try await body(registry)
            await registry.shutdown()
            for try await _ in group {}
            return value
        }
    }

    /// The `RunsError` that `body` throws, or nil when it does not throw one.
    private func runsError<T>(_ body: () async throws -> T) async -> RunsError? {
        do {
            _ = try await body()
            return nil
        } catch {
            return error as? RunsError
        }
    }

    private func launch(_ registry: RunRegistry, _ params: [String: RawParameter]) async throws -> LiveRun {
        try await registry.launch(pattern: "gather", parameters: params)
    }

    @Test func launchedRun_finishesWithItsChecksAndTimeline() async throws {
        let record = try await withRegistry { registry in
            let live = try await launch(registry, ["count": .json(5), "delay_ms": .json(0)])
            await live.finished.wait()
            return try await registry.record(id: live.id)
        }
        #expect(record.status == .succeeded)
        #expect(record.checksPassed == true)
        #expect(record.progress == .init(completed: 5, total: 5))
        #expect(record.timeline?["spans"]?.arrayValue?.count == 5)
    }

    @Test func runFinishedEvent_isLast_andCarriesTheWholeRun() async throws {
        let events = try await withRegistry { registry in
            let live = try await launch(registry, ["count": .json(3), "delay_ms": .json(0)])
            await live.log.waitUntilFinished()
            return live.log.allEvents
        }
        #expect(events.first?.name == "run.started")
        #expect(events.last?.name == "run.finished")
        #expect(events.last?.dataText.contains("\"status\":\"succeeded\"") == true)
        #expect(events.filter { $0.name == "task.finished" }.count == 3)
    }

    /// The ended run's JSON is made once and serves both the answer and `run.finished`: both
    /// must say exactly what the record says (plus the event's `t_ms`).
    @Test func endedRunJSON_andRunFinishedData_areTheRecordItself() async throws {
        let (live, record, events) = try await withRegistry { registry in
            let live = try await launch(registry, ["count": .json(4), "delay_ms": .json(0)])
            await live.log.waitUntilFinished()
            return (live, try await registry.record(id: live.id), live.log.allEvents)
        }
        #expect(live.snapshotJSON() == record.json().serializedBytes())
        let finished = try #require(events.last)
        // Written as the writer writes any object: keys in order, `t_ms` among them.
        #expect(try JSONValue.parse(finished.dataText).serialized() == finished.dataText)
        var data = try #require(try JSONValue.parse(finished.dataText).objectValue)
        #expect(data.removeValue(forKey: "t_ms")?.doubleValue != nil)
        // Compared as text: parsing reads `0.0` back as the integer 0.
        #expect(JSONValue.object(data).serialized() == record.json().serialized())
        #expect(data["timeline"]?["spans"]?.arrayValue?.count == 4)
    }

    /// Runs knows no URL: a run has the links it is given (in its answer and in its final
    /// event), and none without.
    @Test func runJSON_carriesTheLinksItIsGiven_andNoneByDefault() async throws {
        let links = RunLinks { id in ["self": "/x/\(id)"] }
        let (live, events) = try await withRegistry(links: links) { registry in
            let live = try await launch(registry, ["count": .json(1), "delay_ms": .json(0)])
            await live.log.waitUntilFinished()
            return (live, live.log.allEvents)
        }
        let expected: JSONValue = ["self": .string("/x/\(live.id)")]
        #expect(try JSONValue.parse(live.snapshotJSON())["links"] == expected)
        #expect(try JSONValue.parse(try #require(events.last).dataText)["links"] == expected)
        let unlinked = try await withRegistry { registry in
            let live = try await launch(registry, ["count": .json(1), "delay_ms": .json(0)])
            await live.log.waitUntilFinished()
            return live.snapshotJSON()
        }
        #expect(try JSONValue.parse(unlinked).objectValue?.keys.contains("links") == false)
    }

    @Test func unknownPatternAndBadParameters_areRefusedBeforeAnythingStarts() async throws {
        try await withRegistry { registry in
            await #expect(throws: RunsError.self) { try await registry.launch(pattern: "nope", parameters: [:]) }
            let error = await runsError { try await registry.launch(pattern: "gather", parameters: ["count": .json(0)]) }
            guard case .invalidParameters(let issues) = error else {
                Issue.record("expected invalid parameters, got \(String(describing: error))")
                return
            }
            #expect(issues.map(\.field) == ["count"])
            #expect(await registry.activeCount == 0)
        }
    }

    @Test func overTheConcurrentRunLimit_theExcessIsRefusedAtOnce() async throws {
        let configuration = RunsConfiguration(maxConcurrentRuns: 2)
        try await withRegistry(configuration) { registry in
            let slow: [String: RawParameter] = ["count": .json(1), "delay_ms": .json(60_000)]
            let first = try await launch(registry, slow)
            let second = try await launch(registry, slow)
            let error = await runsError { try await launch(registry, slow) }
            guard case .tooManyRuns(let limit, _) = error else {
                Issue.record("expected tooManyRuns, got \(String(describing: error))")
                return
            }
            #expect(limit == 2)
            for live in [first, second] { _ = try await registry.cancel(id: live.id) }
            for live in [first, second] { await live.finished.wait() }
            #expect(await registry.statistics.rejected == 1)
        }
    }

    @Test func cancellingARun_endsItCancelled_andEveryTaskSawIt() async throws {
        let record = try await withRegistry { registry in
            let live = try await launch(registry, ["count": .json(4), "delay_ms": .json(60_000)])
            var subscription = live.log.subscribe()
            // Wait until all four tasks have started, from the run's own events.
            var started = 0
            while started < 4, case .events(let batch) = await subscription.next() {
                started += batch.filter { $0.name == "task.started" }.count
            }
            _ = try await registry.cancel(id: live.id)
            await live.finished.wait()
            return try await registry.record(id: live.id)
        }
        #expect(record.status == .cancelled)
        #expect(record.timeline?["outcomes"]?["cancelled"] == .int(4))
    }

    @Test func cancellingAnEndedRun_isRefusedWithTheRun() async throws {
        try await withRegistry { registry in
            let live = try await launch(registry, ["count": .json(1), "delay_ms": .json(0)])
            await live.finished.wait()
            let error = await runsError { try await registry.cancel(id: live.id) }
            guard case .alreadyEnded(let record) = error else {
                Issue.record("expected alreadyEnded, got \(String(describing: error))")
                return
            }
            #expect(record.status == .succeeded)
        }
    }

    @Test func shutdown_cancelsActiveRuns_andSavesThemCancelled() async throws {
        let store = InMemoryRunStore()
        let id = try await withRegistry(store: store) { registry in
            try await launch(registry, ["count": .json(2), "delay_ms": .json(60_000)]).id
        }
        #expect(try await store.record(id: id)?.status == .cancelled)
        #expect(try await store.events(runID: id)?.last?.name == "run.finished")
    }

    @Test func listing_isNewestFirst_withStableCursorPages() async throws {
        let pages = try await withRegistry { registry in
            var ids: [String] = []
            for _ in 0..<7 {
                let live = try await launch(registry, ["count": .json(1), "delay_ms": .json(0)])
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
        #expect(pages.1 == pages.0.reversed())
    }
}
