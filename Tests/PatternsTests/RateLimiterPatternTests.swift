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
        #expect(run.checkNames == ["admitted_within_burst_plus_rate_in_every_window", "served_first_come_first_served", "throughput_near_rate"])
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

    @Test func aBucketThatRefillsTooSlowly_failsTheThroughputCheck() async throws {
        let run = try await TestRun.execute(RateLimiterPattern(faults: .init(refillFactor: 0.25)))
        #expect(run.check("throughput_near_rate")?.passed == false)
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
