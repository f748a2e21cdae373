@testable import Patterns
import TestSupport
import Testing

@Suite struct RateLimiterPatternTests {
    let pattern = RateLimiterPattern()

    @Test func defaults_aBurstAtOnce_thenOneCallPerToken_inArrivalOrder() async throws {
        let run = try await TestRun.execute(pattern)
        let times = run.times(of: "limiter.admitted")
        #expect(times.count == 40)
        #expect(Array(times.prefix(7)) == [0, 0, 0, 0, 0, 20, 40])
        #expect(times.last == 700)
        #expect(run.ints("ticket", in: "limiter.admitted") == Array(0..<40))
        #expect(run.result["worst_window_excess"] == 5)
        #expect(run.result["throughput_per_s"] == 50)
        #expect(run.result["tokens_lost_to_cap"] == 0)
        #expect(run.result["latest_wakeup_ms"] == 0)
        #expect(run.result["reads_unlike_the_bucket"] == 0)
        // One read per admission, and one wait before each of the 35 paced ones.
        #expect(run.result["bucket_reads"] == 75)
        #expect(run.checkNames == ["admitted_within_burst_plus_rate_in_every_window", "served_first_come_first_served", "every_token_used_while_calls_waited"])
        #expect(run.failedChecks.isEmpty)
        #expect(run.endedAt == .milliseconds(700))
    }

    @Test func theTokensCounter_fallsWithTheBurst_andWaitingDrains() async throws {
        let run = try await TestRun.execute(pattern, ["clients": 2, "calls_per_client": 2, "burst": 2, "rate_per_s": 10])
        #expect(run.values("tokens", in: "limiter.admitted") == [1, 0, 0, 0])
        #expect(run.ints("admitted", in: "limiter.admitted") == [1, 2, 3, 4])
        #expect(run.times(of: "limiter.admitted") == [0, 0, 100, 200])
    }

    @Test func aBucketThatRefillsTooFast_failsTheWindowCheck() async throws {
        let run = try await TestRun.execute(RateLimiterPattern(faults: .init(refillFactor: 2)))
        #expect(run.check("admitted_within_burst_plus_rate_in_every_window")?.passed == false)
    }

    @Test func aLimiterServingTheNewestFirst_failsTheOrderCheck() async throws {
        let run = try await TestRun.execute(RateLimiterPattern(faults: .init(lifo: true)))
        #expect(run.check("served_first_come_first_served")?.passed == false)
        #expect(run.check("admitted_within_burst_plus_rate_in_every_window")?.passed == true)
    }

    @Test func aBucketThatRefillsTooSlowly_failsTheTokenCheck() async throws {
        let run = try await TestRun.execute(RateLimiterPattern(faults: .init(refillFactor: 0.25)))
        #expect(run.check("every_token_used_while_calls_waited")?.passed == false)
        #expect(run.check("admitted_within_burst_plus_rate_in_every_window")?.passed == true)
    }

    @Test func aBucketThatRefillsTooFast_failsTheTokenCheckToo() async throws {
        let run = try await TestRun.execute(RateLimiterPattern(faults: .init(refillFactor: 2)))
        #expect(run.check("every_token_used_while_calls_waited")?.passed == false)
    }

    /// A nominal bucket whose dispatcher sleeps twice as long as the bucket said: every
    /// admission it makes is one the bucket allowed, but it left tokens unused. The next
    /// read finds two tokens, so the throughput barely shows it; the token check does.
    @Test func aDispatcherThatOversleeps_failsTheTokenCheck() async throws {
        let run = try await TestRun.execute(RateLimiterPattern(faults: .init(wakeFactor: 2)))
        #expect(run.check("every_token_used_while_calls_waited")?.passed == false)
        #expect(run.check("admitted_within_burst_plus_rate_in_every_window")?.passed == true)
        #expect(run.result["throughput_per_s"] == 48.6)
    }

    /// Timers that fire 150 ms late (a busy machine; longer than the 100 ms a burst of 5
    /// lasts at 50/s): throughput drops, but only through tokens the full bucket could not
    /// keep, and the limiter used every token it had when it looked: the checks pass.
    @Test func lateTimers_costThroughputOnlyAtTheCap_andPass() async throws {
        let run = try await TestRun.execute(RateLimiterPattern(faults: .init(lateTimerMs: 150)))
        #expect(run.failedChecks.isEmpty, "\(run.failedChecks.map { $0.json.serialized() })")
        #expect(run.result["latest_wakeup_ms"] == 150)
        #expect((run.result["tokens_lost_to_cap"]?.doubleValue ?? 0) > 0)
        #expect((run.result["throughput_per_s"]?.doubleValue ?? 50) < 50)
    }

    @Test func theWindowBound_isComputedOverEveryWindow() {
        // Two admissions 10 ms apart at 10 per second with a burst of 1: the window holding
        // both admits 2 > 1 + 0.1.
        #expect(TokenBucket.worstWindowCount(admissionsMs: [0, 10], ratePerMs: 0.01) == 1.9)
        #expect(TokenBucket.worstWindowCount(admissionsMs: [0, 100, 200], ratePerMs: 0.01) == 1)
        #expect(TokenBucket.worstWindowCount(admissionsMs: [0, 100, 101, 102], ratePerMs: 0.01) > 2)
    }

    @Test func cancellingTheRun_endsTheWaits() async throws {
        let run = try await TestRun.execute(pattern, cancelAt: .milliseconds(50))
        #expect(run.status == .cancelled)
        #expect(run.events(named: "limiter.admitted").count == 7)
    }

    @Test func tooManyCalls_areRejected() {
        #expect(validationIssues(pattern, ["clients": 1_000, "calls_per_client": 101]).map(\.field) == ["calls_per_client"])
        #expect(validationIssues(pattern, ["rate_per_s": 0]).map(\.field) == ["rate_per_s"])
        #expect(validationIssues(pattern, ["rate_per_s": 1, "calls_per_client": 1_000]).map(\.field) == ["params"])
    }
}
