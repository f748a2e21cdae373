@testable import Patterns
import TestSupport
import Testing

@Suite struct BulkheadPatternTests {
    let pattern = BulkheadPattern()

    @Test func defaults_isolatedPoolsKeepTheFastDependencyFast_theSharedOneDoesNot() async throws {
        let run = try await TestRun.execute(pattern)
        // Shared: 12 slow calls take the 8 permits at 0 and queue 4 more; the fast calls
        // (at 10, 30, ... 190) queue behind them and get permits from 200 on.
        #expect(run.result["shared"]?["fast_p95_ms"] == 200)
        #expect(run.result["shared"]?["fast_p50_ms"] == 110)
        #expect(run.result["shared"]?["fast_calls_queued"] == 10)
        #expect(run.result["isolated"]?["fast_p95_ms"] == 10)
        #expect(run.result["isolated"]?["fast_max_ms"] == 10)
        #expect(run.result["isolated"]?["slow_max_ms"] == 600)
        #expect(run.checkNames == ["isolated_fast_calls_never_waited_behind_slow", "shared_pool_degrades_fast_p95"])
        #expect(run.failedChecks.isEmpty)
        #expect(run.endedAt == .milliseconds(600))
    }

    @Test func permitsInUse_neverExceedTheirPool() async throws {
        let run = try await TestRun.execute(pattern)
        #expect(run.ints("shared_in_use", in: "bulkhead.acquired").max() == 8)
        #expect(run.ints("isolated_slow_in_use", in: "bulkhead.acquired").max() == 4)
        #expect(run.ints("isolated_fast_in_use", in: "bulkhead.acquired").max() == 1)
        #expect(run.ints("shared_in_use", in: "bulkhead.released").last == 0)
    }

    @Test func isolationThatLeaks_failsTheIsolationCheck() async throws {
        let run = try await TestRun.execute(BulkheadPattern(faults: .init(leaksIsolation: true)))
        #expect(run.check("isolated_fast_calls_never_waited_behind_slow")?.passed == false)
    }

    @Test func aSharedPoolThatIsNot_failsTheDegradationCheck() async throws {
        let run = try await TestRun.execute(BulkheadPattern(faults: .init(sharedIsIsolated: true)))
        #expect(run.check("shared_pool_degrades_fast_p95")?.passed == false)
    }

    @Test func fastCallsArrivingAfterTheFlood_haveNothingToShow() async throws {
        let run = try await TestRun.execute(pattern, ["fast_interval_ms": 500, "fast_calls": 2])
        #expect(run.check("shared_pool_degrades_fast_p95") == nil)
        #expect(run.failedChecks.isEmpty)
    }

    @Test func cancellingTheRun_emptiesThePools() async throws {
        let run = try await TestRun.execute(pattern, cancelAt: .milliseconds(100))
        #expect(run.status == .cancelled)
        #expect(run.ints("shared_in_use", in: "bulkhead.released").last == 0)
    }
}
