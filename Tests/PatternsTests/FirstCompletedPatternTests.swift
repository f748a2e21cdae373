import Patterns
import TestSupport
import Testing

@Suite struct FirstCompletedPatternTests {
    let pattern = FirstCompletedPattern()
    let ends: Set<String> = ["task.finished", "task.cancelled", "race.won"]

    @Test func theFastestWins_andTheOthersAreCancelledWithoutCompleting() async throws {
        let run = try await TestRun.execute(pattern, ["delays_ms": [300, 100, 200]])
        #expect(run.taskEvents(ends) == ["task.finished 1", "race.won 1", "task.cancelled 0", "task.cancelled 2"])
        #expect(run.times(of: "task.cancelled") == [100, 100])
        #expect(run.result["winner"] == 1)
        #expect(run.result["cancelled"] == 2)
        #expect(run.checkNames == ["winner_has_least_delay", "losers_cancelled", "no_loser_completed_after_cancel"])
        #expect(run.failedChecks.isEmpty)
        #expect(run.endedAt == .milliseconds(100))
    }

    @Test func aTieForFirst_completesAlongsideTheWinner_andIsNotALoser() async throws {
        let run = try await TestRun.execute(pattern, ["delays_ms": [100, 100, 300]])
        #expect(run.taskEvents(ends) == ["task.finished 0", "task.finished 1", "race.won 0", "task.cancelled 2"])
        #expect(run.result["completed_alongside_winner"] == 1)
        #expect(run.check("losers_cancelled")?.expected == "== 1")
        #expect(run.failedChecks.isEmpty)
    }

    @Test func jitteredDelays_theWinnerIsTheLeastDelay() async throws {
        let run = try await TestRun.execute(pattern, ["count": 8, "delay_ms": 50, "jitter_ms": 500, "seed": 3])
        let delays = (0..<8).map { 50 + SeededRandom.jitter(seed: 3, index: $0, maxJitter: 500) }
        let winner = try #require(delays.indices.min { delays[$0] < delays[$1] })
        #expect(run.result["winner"] == .int(winner))
        #expect(run.endedAt == .milliseconds(delays[winner]))
        #expect(run.failedChecks.isEmpty)
    }

    @Test func cancellingTheRun_beforeAnyoneFinishes_cancelsEveryRacer() async throws {
        let run = try await TestRun.execute(pattern, ["delays_ms": [300, 100]], cancelAt: .milliseconds(50))
        #expect(run.status == .cancelled)
        #expect(run.events(named: "race.won").isEmpty)
        #expect(run.spans([0, 1], endedWith: .cancelled))
    }

    @Test func badDelays_areRejected() {
        #expect(validationIssues(pattern, ["delays_ms": []]).map(\.field) == ["delays_ms"])
        #expect(validationIssues(pattern, ["delays_ms": [10, 60_001]]).map(\.field) == ["delays_ms"])
        #expect(validationIssues(pattern, ["count": 0]).map(\.field) == ["count"])
    }
}
