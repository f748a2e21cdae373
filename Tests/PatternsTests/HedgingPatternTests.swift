@testable import Patterns
import TestSupport
import Testing

@Suite struct HedgingPatternTests {
    let pattern = HedgingPattern()

    /// Each request's latency as the dependency's seeded draws make it: the plain arm
    /// waits for its one call, the hedged arm for the first of the call and its copy.
    func expectedLatencies(requests: Int, hedgeAfterMs: Int) throws -> (plain: [Double], hedged: [Double]) {
        let setup = HedgingSetup(try PatternCatalog().validate(["requests": .json(.int(requests))], for: pattern).get())
        let dependency = SimulatedDependency(setup.profile)
        let plain = (0..<requests).map { Double(dependency.latencyMs(key: $0 * 2)) }
        let hedged = (0..<requests).map { request -> Double in
            let first = Double(dependency.latencyMs(key: request * 2))
            guard first > Double(hedgeAfterMs) else { return first }
            return min(first, Double(hedgeAfterMs + dependency.latencyMs(key: request * 2 + 1)))
        }
        return (plain, hedged)
    }

    @Test func defaults_hedgingCutsTheTail_andEveryLoserIsCancelled() async throws {
        let run = try await TestRun.execute(pattern)
        let expected = try expectedLatencies(requests: 100, hedgeAfterMs: 50)
        #expect(run.result["p99_plain_ms"]?.doubleValue == expected.plain.percentile(99))
        #expect(run.result["p99_hedged_ms"]?.doubleValue == expected.hedged.percentile(99))
        #expect(try #require(expected.hedged.percentile(99)) < 100)
        #expect(expected.plain.percentile(99) ?? 0 >= 400)
        let slow = expected.plain.count { $0 > 50 }
        #expect(run.result["hedges_sent"] == .int(slow))
        #expect(run.result["losers_cancelled"] == .int(slow))
        #expect(run.events(named: "call.cancelled").count == slow)
        #expect(run.checkNames == ["losers_cancelled", "no_loser_answered_after_winner", "p99_hedged_below_plain"])
        #expect(run.failedChecks.isEmpty)
    }

    @Test func theHedgesSentCounter_countsUpToTheFigure() async throws {
        let run = try await TestRun.execute(pattern, ["requests": 40])
        let counted = run.ints("hedges_sent", in: "hedge.sent")
        #expect(counted == Array(1...counted.count))
        #expect(run.result["hedges_sent"] == .int(counted.count))
        #expect(run.ints("in_flight_plain", in: "call.ended").last == 0)
        #expect(run.ints("in_flight_hedged", in: "call.ended").last == 0)
    }

    @Test func aHedgerThatLetsLosersRun_failsTheCancellationChecks() async throws {
        let run = try await TestRun.execute(HedgingPattern(cancelsLosers: false))
        #expect(run.check("losers_cancelled")?.passed == false)
        #expect(run.check("no_loser_answered_after_winner")?.passed == false)
    }

    @Test func aHedgeSentTooLateToHelp_failsTheTailCheck() async throws {
        let run = try await TestRun.execute(pattern, ["hedge_after_ms": 1_000])
        #expect(run.result["hedges_sent"] == 0)
        #expect(run.check("p99_hedged_below_plain")?.passed == false)
    }

    @Test func cancellingTheRun_cancelsEveryCall() async throws {
        let run = try await TestRun.execute(pattern, ["requests": 10], cancelAt: .milliseconds(60))
        #expect(run.status == .cancelled)
        #expect(run.events(named: "call.started").count == run.events(named: "call.ended").count)
    }

    @Test func percentile_isTheNearestRank() {
        #expect((1...100).map { Double($0) }.percentile(99) == 99)
        #expect([5.0, 1, 3].percentile(50) == 3)
        #expect([Double]().percentile(50) == nil)
    }
}
