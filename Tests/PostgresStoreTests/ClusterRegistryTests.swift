import Foundation
import LabJSON
import Patterns
import PostgresStore
import Runs
import Testing
import TestSupport

/// Registries on PostgreSQL stores, as servers run them: the cluster's bound refuses launches at
/// once on every instance, and a run an instance lost to the reaper is cancelled there and read as
/// the store says.
@Suite(.timeLimit(.minutes(2))) struct ClusterRegistryTests {
    static let long: [String: RawParameter] = ["count": .json(1), "delay_ms": .json(60_000)]

    @Test func clusterBound_isSharedByEveryRegistry_andARunsEndReturnsItsPermit() async throws {
        try await ClusterFixture.with { cluster in
            let stores = [try await cluster.open("a", lease: .seconds(10), permits: 2), try await cluster.open("b", lease: .seconds(10), permits: 2)]
            let registries = stores.map { RunRegistry(catalog: PatternCatalog(limits: .defaults), store: $0, cluster: $0) }
            try await cluster.running(stores) {
                try await serving(registries) {
                    let first = try await registries[0].launch(pattern: "gather", parameters: Self.long)
                    _ = try await registries[1].launch(pattern: "gather", parameters: Self.long)
                    for registry in registries {
                        do throws(RunsError) {
                            _ = try await registry.launch(pattern: "gather", parameters: Self.long)
                            Issue.record("admitted past the cluster's bound")
                        } catch {
                            guard case .tooManyRuns(let limit, _) = error else {
                                Issue.record("\(error)")
                                continue
                            }
                            #expect(limit == 2)
                        }
                    }
                    // Refused before it counted: a bad launch takes no permit.
                    await #expect(throws: RunsError.self) { try await registries[1].launch(pattern: "gather", parameters: ["count": .json(0)]) }
                    _ = try await registries[0].cancel(id: first.id)
                    await first.finished.wait()
                    await stores[0].flush()
                    _ = try await registries[1].launch(pattern: "gather", parameters: Self.long)
                    #expect(await registries.asyncMap { await $0.statistics.rejected }.reduce(0, +) == 2)
                }
            }
        }
    }

    @Test func runLostToTheReaper_isCancelledByItsOwner_andReadsInterrupted() async throws {
        try await ClusterFixture.with { cluster in
            let owner = try await cluster.open("owner", lease: .seconds(60), renewal: .seconds(3_600))
            let survivor = try await cluster.open("survivor", lease: .seconds(3), renewal: .milliseconds(200))
            let registry = RunRegistry(catalog: PatternCatalog(limits: .defaults), store: owner, cluster: owner)
            try await cluster.running([owner, survivor]) {
                try await serving([registry]) {
                    // Events every 20 ms: the owner's next write after the expiry is refused.
                    let live = try await registry.launch(
                        pattern: "periodic", parameters: ["interval_ms": .json(20), "duration_ms": .json(60_000), "work_ms": .json(0)])
                    await owner.waitUntilVisible(runID: live.id)
                    try await waitFor { owner.clusterStatistics.heartbeats >= 1 }
                    try cluster.expireLease(of: owner)
                    // The owner notices at its next write (or renewal) and gives the run up.
                    await live.finished.wait()
                    #expect(try await registry.record(id: live.id).status == .interrupted)
                    // Its streams here end as on every other instance: run.finished, interrupted.
                    #expect(live.snapshot().status == .interrupted)
                    let last = try #require(live.log.allEvents.last)
                    #expect(last.name == "run.finished")
                    #expect(try JSONValue.parse(last.data)["status"] == "interrupted")
                    #expect(await registry.activeCount == 0)
                    #expect(try await survivor.record(id: live.id)?.status == .interrupted)
                }
            }
        }
    }
}

/// Runs the registries' service loops while `body` runs; shuts them down after.
private func serving<T: Sendable>(_ registries: [RunRegistry], _ body: () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for registry in registries { group.addTask { await registry.run() } }
        do {
            let value = try await body()
            for registry in registries { await registry.shutdown() }
            return value
        } catch {
            for registry in registries { await registry.shutdown() }
            throw error
        }
    }
}

extension Array where Element: Sendable {
    func asyncMap<T>(_ transform: (Element) async -> T) async -> [T] {
        var results: [T] = []
        for element in self { results.append(await transform(element)) }
        return results
    }
}
