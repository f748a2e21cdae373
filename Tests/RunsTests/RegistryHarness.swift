import LabJSON
import Foundation
import Patterns
import Runs

/// A registry whose service loop runs for the duration of `body`, then shuts down.
func withServingRegistry<T: Sendable>(
    _ configuration: RunsConfiguration = RunsConfiguration(), catalog: PatternCatalog? = nil,
    store: any RunStore = InMemoryRunStore(), _ body: (RunRegistry) async throws -> T
) async throws -> T {
    let registry = RunRegistry(
        catalog: catalog ?? PatternCatalog(limits: configuration.limits), configuration: configuration, store: store)
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

/// A finished run: its record and every event of its log.
struct FinishedRun: Sendable {
    let record: RunRecord
    let events: [StoredEvent]
}

extension RunRegistry {
    /// Launches `pattern` and waits for its end.
    func finishedRun(_ pattern: String, _ parameters: [String: JSONValue]) async throws -> FinishedRun {
        let live = try await launch(pattern: pattern, parameters: parameters.mapValues(RawParameter.json))
        await live.log.waitUntilFinished()
        return FinishedRun(record: try await record(id: live.id), events: live.log.allEvents)
    }
}
