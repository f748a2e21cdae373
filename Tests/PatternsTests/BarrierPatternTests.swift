@testable import Patterns
import TestSupport
import Testing

@Suite struct BarrierPatternTests {
    let pattern = BarrierPattern()

    @Test func everyPhaseOpens_whenItsLastPartyArrives() async throws {
        let run = try await TestRun.execute(pattern, ["parties": 3, "phases": 2, "work_ms": 10, "jitter_ms": 0, "seed": 1])
        #expect(run.times(of: "barrier.arrived") == [10, 10, 10, 20, 20, 20])
        #expect(run.times(of: "barrier.passed") == [10, 10, 10, 20, 20, 20])
        #expect(run.ints("waiting", in: "barrier.arrived") == [1, 2, 3, 1, 2, 3])
        #expect(run.ints("phases_opened", in: "barrier.phase_opened") == [1, 2])
        #expect(run.result["passes"] == 6)
        #expect(run.checkNames == ["no_party_passes_before_all_arrive", "every_party_passes_every_phase"])
        #expect(run.failedChecks.isEmpty)
    }

    /// With different amounts of work, the quick parties wait for the slowest: every pass of
    /// a phase comes at its slowest party's arrival.
    @Test func quickParties_waitForTheSlowest() async throws {
        let run = try await TestRun.execute(pattern, ["parties": 3, "phases": 3, "work_ms": 10, "jitter_ms": 90, "seed": 5])
        let work = { (party: Int, phase: Int) in 10 + SeededRandom.jitter(seed: 5, index: party * 3 + phase, maxJitter: 90) }
        var opened = 0
        var passTimes: [Double] = []
        for phase in 0..<3 {
            opened += (0..<3).map { work($0, phase) }.max() ?? 0
            passTimes += Array(repeating: Double(opened), count: 3)
        }
        #expect(run.times(of: "barrier.passed") == passTimes)
        #expect(run.failedChecks.isEmpty)
        #expect(run.endedAt == .milliseconds(Int64(opened)))
    }

    @Test func aFailingParty_breaksTheBarrier_andTheOthersGetTheError() async throws {
        let run = try await TestRun.execute(
            pattern, ["parties": 3, "phases": 3, "work_ms": 10, "jitter_ms": 0, "fail_party": 1, "fail_phase": 1])
        #expect(run.times(of: "barrier.aborted") == [20])
        // Party 2 arrives after the abort and is refused at once; party 0, waiting, is woken.
        #expect(run.ints("task", in: "barrier.broken") == [2, 0])
        #expect(run.times(of: "barrier.broken") == [20, 20])
        #expect(run.result["passes"] == 3)
        #expect(run.spans([1], endedWith: .error) && run.spans([0, 2], endedWith: .error))
        #expect(run.checkNames == ["no_party_passes_before_all_arrive", "failure_breaks_the_barrier"])
        #expect(run.failedChecks.isEmpty)
        #expect(run.status == .succeeded)
    }

    @Test func cancellingTheRun_releasesTheWaitingParties() async throws {
        let run = try await TestRun.execute(pattern, ["parties": 3, "phases": 3, "work_ms": 10, "jitter_ms": 50], cancelAt: .milliseconds(30))
        #expect(run.status == .cancelled)
        #expect(run.timeline.spans.allSatisfy { $0.outcome == .cancelled })
    }

    // Each check, failed by a variant that breaks its guarantee.

    @Test func aBarrierThatOpensOneShort_failsNoPartyPassesBeforeAllArrive() async throws {
        let run = try await TestRun.execute(
            BarrierPattern(fault: .opensOneShort), ["parties": 3, "phases": 2, "work_ms": 10, "jitter_ms": 30])
        #expect((run.result["early_passes"]?.intValue ?? 0) > 0)
        #expect(run.check("no_party_passes_before_all_arrive")?.passed == false)
    }

    @Test func failingWithoutAbort_leavesTheOthersStuck_andFailsFailureBreaksTheBarrier() async throws {
        let run = try await TestRun.execute(
            BarrierPattern(fault: .failsWithoutAbort),
            ["parties": 3, "phases": 3, "work_ms": 10, "jitter_ms": 0, "fail_party": 1, "fail_phase": 1])
        #expect(run.result["stuck"] == 2)
        #expect(run.result["broken"] == 0)
        #expect(run.check("failure_breaks_the_barrier")?.passed == false)
    }

    @Test func aPartyThatQuits_leavesTheOthersStuck_andFailsEveryPartyPassesEveryPhase() async throws {
        let run = try await TestRun.execute(
            BarrierPattern(fault: .partyQuitsEarly), ["parties": 3, "phases": 2, "work_ms": 10, "jitter_ms": 0])
        #expect(run.result["passes"] == 3)
        #expect(run.result["stuck"] == 2)
        #expect(run.check("every_party_passes_every_phase")?.passed == false)
    }

    @Test func failuresOutsideTheRun_areRejected() {
        #expect(validationIssues(pattern, ["parties": 3, "fail_party": 3]).map(\.field) == ["fail_party"])
        #expect(validationIssues(pattern, ["phases": 2, "fail_party": 0, "fail_phase": 2]).map(\.field) == ["fail_phase"])
        #expect(validationIssues(pattern, ["phases": 1_001]).map(\.field) == ["phases"])
    }
}
