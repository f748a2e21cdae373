@testable import Patterns
import TestSupport
import Testing

@Suite struct DebounceThrottlePatternTests {
    let pattern = DebounceThrottlePattern()

    @Test func defaults_debouncePassesTheLastOfEachBurst_afterItsQuietPeriod() async throws {
        let run = try await TestRun.execute(pattern)
        // Bursts of 6 events 10 ms apart start every 150 ms; each burst's last event (at
        // 50, 200, ...) comes out 50 ms later.
        #expect(run.ints("value", in: "debounce.emitted") == [5, 11, 17, 23, 29])
        #expect(run.times(of: "debounce.emitted") == [100, 250, 400, 550, 700])
        #expect(run.ints("debounced", in: "debounce.emitted") == [1, 2, 3, 4, 5])
        #expect(run.result["burst_ends_as_received"] == 5)
        #expect(run.failedChecks.isEmpty)
        #expect(run.checkNames.count == 3)
    }

    @Test func defaults_throttlePassesAtMostOneEventPer40ms_theLatest() async throws {
        let run = try await TestRun.execute(pattern)
        #expect(run.ints("value", in: "throttle.emitted") == [0, 4, 6, 10, 12, 16, 18, 22, 24, 28, 29])
        #expect(run.times(of: "throttle.emitted") == [0, 40, 150, 190, 300, 340, 450, 490, 600, 640, 750])
        #expect(run.result["throttle_shortest_gap_ms"] == 40)
    }

    @Test func throttlesLastEvent_waitsOutTheInterval_andIsTimedWhenItWasEmitted() async throws {
        // The source ends 5 ms after its last event; throttle holds that event until 40 ms
        // after its previous emission.
        let run = try await TestRun.execute(pattern, ["bursts": 1, "quiet_ms": 5])
        #expect(run.ints("value", in: "throttle.emitted") == [0, 4, 5])
        #expect(run.times(of: "throttle.emitted") == [0, 40, 80])
        #expect(run.check("throttle_at_most_one_per_interval")?.passed == true)
    }

    @Test func operatorsGivenShorterIntervals_failEveryCheck() async throws {
        let run = try await TestRun.execute(DebounceThrottlePattern(misconfigured: true))
        #expect(run.check("debounce_emits_only_last_of_each_burst")?.passed == false)
        #expect(run.check("debounce_quiet_period_at_least_interval")?.passed == false)
        #expect(run.check("throttle_at_most_one_per_interval")?.passed == false)
    }

    @Test func cancellingTheRun_stopsTheSourceAndBothPipelines() async throws {
        let run = try await TestRun.execute(pattern, cancelAt: .milliseconds(120))
        #expect(run.status == .cancelled)
        #expect(run.ints("value", in: "debounce.emitted") == [5])
    }

    @Test func tooManyEvents_areRejected() {
        #expect(validationIssues(pattern, ["bursts": 1_000, "burst_size": 101]).map(\.field) == ["burst_size"])
    }
}
