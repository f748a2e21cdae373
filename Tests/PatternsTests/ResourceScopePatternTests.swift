@testable import Patterns
import TestSupport
import Testing

@Suite struct ResourceScopePatternTests {
    let pattern = ResourceScopePattern()
    let lifecycle: Set<String> = ["resource.acquired", "resource.released"]

    private func reasons(_ run: TestRunResult) -> [String] {
        run.values("reason", in: "resource.released").compactMap(\.stringValue)
    }

    @Test func success_releasesEveryResourceOnce_inReverseOrder() async throws {
        let run = try await TestRun.execute(pattern, ["resources": 3, "use_ms": 100])
        #expect(
            run.taskEvents(lifecycle) == [
                "resource.acquired 0", "resource.acquired 1", "resource.acquired 2", "resource.released 2",
                "resource.released 1", "resource.released 0",
            ])
        #expect(run.times(of: "resource.released") == [100, 100, 100])
        #expect(reasons(run) == ["ok", "ok", "ok"])
        #expect(run.result["ended_by"] == "ok")
        #expect(run.checkNames == ["every_resource_released_once", "released_in_reverse_order"])
        #expect(run.failedChecks.isEmpty)
    }

    @Test func failureInTheBody_releasesEveryResource_thenTheErrorReachesTheCaller() async throws {
        let run = try await TestRun.execute(pattern, ["resources": 3, "use_ms": 100, "fail_in_body": true])
        #expect(run.status == .succeeded)
        #expect(run.ints("resource", in: "resource.released") == [2, 1, 0])
        #expect(run.times(of: "resource.released") == [50, 50, 50])
        #expect(reasons(run) == ["error", "error", "error"])
        #expect(run.result["ended_by"] == "error")
        #expect(run.checkNames == ["every_resource_released_once", "released_in_reverse_order", "body_error_reached_caller"])
        #expect(run.failedChecks.isEmpty)
        #expect(run.spans([0, 1, 2], endedWith: .error))
    }

    @Test func cancellingRun_releasesEveryResourceInReverseOrder() async throws {
        let run = try await TestRun.execute(pattern, ["resources": 4, "use_ms": 100], cancelAt: .milliseconds(30))
        #expect(run.status == .cancelled)
        #expect(run.ints("resource", in: "resource.released") == [3, 2, 1, 0])
        #expect(run.times(of: "resource.released") == [30, 30, 30, 30])
        #expect(reasons(run) == ["cancelled", "cancelled", "cancelled", "cancelled"])
        #expect(run.result["ended_by"] == "cancelled")
        #expect(run.failedChecks.isEmpty)
        #expect(run.spans([0, 1, 2, 3], endedWith: .cancelled))
    }

    /// The first tutorial's AsyncDatabase: connecting, a query and disconnecting take 0.1 s
    /// each, so the scope takes 0.3 s.
    @Test func tutorialDatabase_entersUsesAndExits_inThreeTenthsOfASecond() async throws {
        let run = try await TestRun.execute(pattern, ["resources": 1, "enter_ms": 100, "use_ms": 100, "exit_ms": 100])
        #expect(
            run.eventNames(excluding: ["progress", "run.started"]) == [
                "task.started", "resource.acquiring", "resource.acquired", "resource.releasing", "resource.released",
                "task.finished",
            ])
        #expect(run.times(of: "resource.acquired") == [100])
        #expect(run.times(of: "resource.releasing") == [200])
        #expect(run.times(of: "resource.released") == [300])
        #expect(run.ints("held", in: "resource.acquired") == [1])
        #expect(run.ints("held", in: "resource.released") == [0])
        #expect(run.checkNames == ["every_resource_released_once", "released_in_reverse_order", "every_exit_took_its_time"])
        #expect(run.failedChecks.isEmpty)
        #expect(run.endedAt == .milliseconds(300))
    }

    @Test func failureInTheBody_stillTakesEachExitsTime_innermostFirst() async throws {
        let run = try await TestRun.execute(
            pattern, ["resources": 2, "use_ms": 100, "fail_in_body": true, "exit_ms": 30])
        #expect(run.ints("resource", in: "resource.released") == [1, 0])
        #expect(run.times(of: "resource.releasing") == [50, 80])
        #expect(run.times(of: "resource.released") == [80, 110])
        #expect(reasons(run) == ["error", "error"])
        #expect(run.result["shortest_exit_ms"] == .milliseconds(30))
        #expect(run.failedChecks.isEmpty)
    }

    /// Cancellation is sticky in Swift: a plain sleep in the exit would throw at once. The
    /// exit runs shielded and takes its 20 ms each time, after the cancellation.
    @Test func cancellingRun_eachExitStillTakesItsTime() async throws {
        let run = try await TestRun.execute(
            pattern, ["resources": 3, "use_ms": 100, "exit_ms": 20], cancelAt: .milliseconds(30))
        #expect(run.status == .cancelled)
        #expect(run.ints("resource", in: "resource.released") == [2, 1, 0])
        #expect(run.times(of: "resource.released") == [50, 70, 90])
        #expect(reasons(run) == ["cancelled", "cancelled", "cancelled"])
        #expect(run.check("every_exit_took_its_time")?.passed == true)
        #expect(run.spans([0, 1, 2], endedWith: .cancelled))
        #expect(run.endedAt == .milliseconds(90))
    }

    @Test func cancelledWhileEntering_theResourceWasNeverAcquired_andIsNotReleased() async throws {
        let run = try await TestRun.execute(
            pattern, ["resources": 2, "enter_ms": 50, "use_ms": 100, "exit_ms": 10], cancelAt: .milliseconds(70))
        #expect(run.result["acquire_order"] == [0])
        #expect(run.result["release_order"] == [0])
        #expect(run.times(of: "resource.released") == [80])
        #expect(run.failedChecks.isEmpty)
    }

    // Each check, failed by a variant that breaks its guarantee.

    @Test func skippingTheReleaseOnError_failsReleasedOnceAndReverseOrder() async throws {
        let run = try await TestRun.execute(
            ResourceScopePattern(fault: .skipsReleaseOnError), ["resources": 3, "fail_in_body": true])
        #expect(run.check("every_resource_released_once")?.passed == false)
        #expect(run.check("released_in_reverse_order")?.passed == false)
    }

    @Test func releasingFromAListInAcquisitionOrder_failsReleasedInReverseOrder() async throws {
        let run = try await TestRun.execute(ResourceScopePattern(fault: .releasesInAcquisitionOrder), ["resources": 3])
        #expect(run.result["release_order"] == [0, 1, 2])
        #expect(run.check("every_resource_released_once")?.passed == true)
        #expect(run.check("released_in_reverse_order")?.passed == false)
    }

    @Test func anUnshieldedExit_isCutShortByTheCancellation_andFailsEveryExitTookItsTime() async throws {
        let run = try await TestRun.execute(
            ResourceScopePattern(fault: .exitNotShielded), ["resources": 2, "exit_ms": 20], cancelAt: .milliseconds(30))
        #expect(run.times(of: "resource.released") == [30, 30])
        #expect(run.check("every_exit_took_its_time")?.passed == false)
    }

    @Test func swallowingTheBodysError_failsBodyErrorReachedCaller() async throws {
        let run = try await TestRun.execute(
            ResourceScopePattern(fault: .swallowsBodyError), ["resources": 2, "fail_in_body": true])
        #expect(run.check("body_error_reached_caller")?.passed == false)
    }

    @Test func tooDeepANest_isRejected() {
        #expect(validationIssues(pattern, ["resources": 101]).map(\.field) == ["resources"])
        #expect(validationIssues(pattern, ["resources": 0]).map(\.field) == ["resources"])
        #expect(validationIssues(pattern, ["exit_ms": -1, "enter_ms": 60_001]).map(\.field).sorted() == ["enter_ms", "exit_ms"])
        #expect(validationIssues(pattern, ["resources": 100, "exit_ms": 3_000]).map(\.field) == ["params"])
    }
}
