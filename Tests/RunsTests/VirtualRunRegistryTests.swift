import LabJSON
import Foundation
import Patterns
import Runs
import Testing
import TestSupport

/// `clock: virtual` through the registry: what the record says, and the limits it runs under.
@Suite struct VirtualRunRegistryTests {
    /// Figures and `duration_ms` in virtual time, the real time beside them.
    @Test func virtualRun_reportsVirtualTime_withTheRealTimeBeside() async throws {
        let run = try await withServingRegistry { registry in
            try await registry.finishedRun("semaphore", ["count": 50, "limit": 5, "delay_ms": 60_000, "clock": "virtual"])
        }
        let record = run.record
        #expect(record.status == .succeeded)
        #expect(record.params["clock"] == "virtual")
        #expect(record.durationMs == 600_000)
        #expect(record.result?["wall_ms"] == 600_000)
        #expect(record.result?["wall_ratio"] == 1.0)
        let realMs = try #require(record.realMs)
        #expect(realMs > 0)
        #expect(record.json()["real_ms"] == .milliseconds(realMs))
        let finished = try #require(run.events.last)
        #expect(try JSONValue.parse(finished.data)["t_ms"] == 600_000)
    }

    /// A day of virtual time announces progress at most about a thousand times (one per
    /// 86.4 s of it), not once per 50 ms (1,728,000) nor once per task (1,440 here): a task
    /// ends every 60 s, so every second end is announced (720), then the last one.
    @Test func dayLongVirtualRun_coalescesProgressToAboutAThousandEvents() async throws {
        let run = try await withServingRegistry { registry in
            try await registry.finishedRun("semaphore", ["count": 1_440, "limit": 1, "delay_ms": 60_000, "clock": "virtual"])
        }
        #expect(run.record.status == .succeeded)
        #expect(run.record.durationMs == 86_400_000)
        let progress = run.events.filter { $0.name == "progress" }
        #expect(progress.count == 721)
        #expect(try JSONValue.parse(try #require(progress.last).data)["completed"] == 1_440)
    }

    @Test func realRun_carriesItsRealTimeToo() async throws {
        let record = try await withServingRegistry { registry in
            try await registry.finishedRun("gather", ["count": 2, "delay_ms": 0])
        }.record
        #expect(record.params["clock"] == "real")
        #expect(record.realMs != nil)
    }

    @Test func blockingOffload_refusesTheVirtualClock_beforeAnythingStarts() async throws {
        try await withServingRegistry { registry in
            do {
                _ = try await registry.launch(pattern: "blocking-offload", parameters: ["clock": .text("virtual")])
                Issue.record("a virtual blocking-offload run was admitted")
            } catch RunsError.invalidParameters(let issues) {
                #expect(issues.map(\.field) == ["clock"])
            } catch {
                Issue.record("expected invalid parameters, got \(error)")
            }
            #expect(await registry.activeCount == 0)
        }
    }

    /// `maxVirtualDuration` reaches the run: a run whose plan said nothing is stopped where
    /// its clock would pass the limit, and ends failed, saying why.
    @Test func virtualRunPastTheVirtualLimit_failsSayingWhy() async throws {
        let configuration = RunsConfiguration(limits: PatternLimits(maxVirtualDuration: .seconds(3_600)))
        let catalog = PatternCatalog(limits: configuration.limits, patterns: [SleeperPattern()])
        let record = try await withServingRegistry(configuration, catalog: catalog) { registry in
            try await registry.finishedRun("sleeper", ["steps": 0, "sleep_ms": 1_000_000, "clock": "virtual"])
        }.record
        #expect(record.status == .failed)
        #expect(record.durationMs == 3_000_000)
        #expect(record.error?.contains("past the virtual time limit of 3600 s") == true)
    }

    @Test func deadlockedVirtualRun_failsInsteadOfHanging() async throws {
        let catalog = PatternCatalog(patterns: [SleeperPattern()])
        let record = try await withServingRegistry(catalog: catalog) { registry in
            try await registry.finishedRun("sleeper", ["steps": 1, "hang": true, "clock": "virtual"])
        }.record
        #expect(record.status == .failed)
        #expect(record.error?.contains("virtual time stalled at 10.0 ms") == true)
    }

    /// Which clock a run kept, from memory and, once it left memory, from the store.
    @Test func clockMode_isKnownForLiveAndStoredRuns() async throws {
        let configuration = RunsConfiguration(keepFinishedInMemory: 0)
        try await withServingRegistry(configuration) { registry in
            let virtual = try await registry.finishedRun("gather", ["count": 1, "clock": "virtual"])
            let real = try await registry.finishedRun("gather", ["count": 1, "delay_ms": 0])
            #expect(await registry.live(id: virtual.record.id) == nil)
            #expect(try await registry.clockMode(id: virtual.record.id) == .virtual)
            #expect(try await registry.clockMode(id: real.record.id) == .real)
        }
    }

    /// A cancellation from outside (DELETE, shutdown) ends a virtual run `cancelled`.
    @Test func cancellingAVirtualRun_endsItCancelled() async throws {
        let catalog = PatternCatalog(patterns: [SleeperPattern()])
        let record = try await withServingRegistry(catalog: catalog) { registry in
            let live = try await registry.launch(
                pattern: "sleeper", parameters: ["steps": .json(0), "sleep_ms": .json(1), "clock": .json("virtual")])
            _ = try await registry.cancel(id: live.id)
            await live.finished.wait()
            return try await registry.record(id: live.id)
        }
        #expect(record.status == .cancelled)
        #expect(record.error == nil)
    }
}
