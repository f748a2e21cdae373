@testable import Patterns
import TestSupport
import Testing

@Suite struct RetryPatternTests {
    let pattern = RetryPattern()

    @Test func defaults_playAllFourStrategies_andFullJitterMakesFewerCallsThanNone() async throws {
        let run = try await TestRun.execute(pattern)
        #expect(run.checkNames == ["sleeps_within_bounds", "attempts_within_max", "full_jitter_fewer_calls_than_none"])
        #expect(run.failedChecks.isEmpty)
        // Without jitter, 20 clients retry in lockstep against a capacity of 8: every round
        // overloads the dependency, so every client spends all 7 attempts and gives up.
        let none = try #require(run.result["strategies"]?["none"])
        #expect(none["calls"] == 140)
        #expect(none["gave_up"] == 20)
        let full = try #require(run.result["calls_full"]?.intValue)
        #expect(full < 140)
        #expect(run.result["strategies"]?["full"]?["succeeded"] == 20)
    }

    @Test func noJitter_sleepsExactlyTheExponentialCeiling() async throws {
        let run = try await TestRun.execute(
            pattern, ["compare": false, "jitter": "none", "clients": 3, "capacity": 1, "max_attempts": 4, "cap_ms": 30])
        let client0 = run.events(named: "retry.backoff").filter { $0.data["client"] == 0 }
        #expect(client0.compactMap { $0.data["sleep_ms"]?.doubleValue } == [10, 20, 30])
        // Three clients in lockstep on a capacity of one collide on every attempt.
        #expect(run.result["calls_none"] == 12)
        #expect(run.times(of: "retry.attempt").prefix(6) == [0, 0, 0, 30, 30, 30])
        #expect(run.failedChecks.isEmpty)
    }

    @Test(arguments: Backoff.Jitter.allCases)
    func everyStrategy_drawsWithinItsFormula(jitter: Backoff.Jitter) async throws {
        let run = try await TestRun.execute(pattern, ["compare": false, "jitter": .string(jitter.rawValue), "seed": 7])
        let backoffs = run.events(named: "retry.backoff")
        #expect(!backoffs.isEmpty)
        for event in backoffs {
            let sleep = try #require(event.data["sleep_ms"]?.doubleValue)
            let low = try #require(event.data["min_ms"]?.doubleValue)
            let high = try #require(event.data["max_ms"]?.doubleValue)
            #expect(sleep >= low && sleep <= high)
            #expect(high <= 160)
        }
        #expect(run.check("sleeps_within_bounds")?.passed == true)
    }

    @Test func withoutContention_everyClientSucceedsAtOnce() async throws {
        let run = try await TestRun.execute(pattern, ["clients": 4, "capacity": 4])
        #expect(run.events(named: "retry.backoff").isEmpty)
        #expect(run.result["calls_none"] == 4)
        #expect(run.check("full_jitter_fewer_calls_than_none") == nil)
        #expect(run.endedAt == .milliseconds(20))
    }

    @Test func sleepsStretchedPastTheirBounds_failTheBoundsCheck() async throws {
        let broken = RetryPattern(faults: .init(sleepFactor: 3))
        let run = try await TestRun.execute(broken, ["compare": false, "jitter": "equal"])
        #expect(run.check("sleeps_within_bounds")?.passed == false)
    }

    @Test func oneAttemptTooMany_failsTheAttemptsCheck() async throws {
        let broken = RetryPattern(faults: .init(extraAttempts: 1))
        let run = try await TestRun.execute(broken, ["compare": false, "jitter": "none"])
        #expect(run.check("attempts_within_max")?.observed == 8)
        #expect(run.check("attempts_within_max")?.passed == false)
    }

    @Test func jitterTooSmallToSpreadTheClients_failsTheFinding() async throws {
        // Sleeps of at most 1 ms cannot spread calls that take 20 ms: full jitter collides
        // as often as none, and the check says so.
        let run = try await TestRun.execute(pattern, ["clients": 10, "capacity": 2, "base_ms": 1, "cap_ms": 1])
        #expect(run.check("full_jitter_fewer_calls_than_none")?.passed == false)
    }

    @Test func cancellingTheRun_stopsEveryClient() async throws {
        let run = try await TestRun.execute(pattern, cancelAt: .milliseconds(25))
        #expect(run.status == .cancelled)
        #expect(run.timeline.outcomes[.cancelled] ?? 0 > 0)
    }

    @Test func badBackoffs_areRejected() {
        #expect(validationIssues(pattern, ["base_ms": 100, "cap_ms": 50]).map(\.field) == ["cap_ms"])
        #expect(validationIssues(pattern, ["max_attempts": 21]).map(\.field) == ["max_attempts"])
        #expect(validationIssues(pattern, ["jitter": "sometimes"]).map(\.field) == ["jitter"])
        #expect(validationIssues(pattern, ["clients": 1_001]).map(\.field) == ["clients"])
        #expect(validationIssues(pattern, ["max_attempts": 20, "cap_ms": 60_000]).map(\.field) == ["params"])
    }
}
