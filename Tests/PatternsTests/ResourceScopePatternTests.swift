import Patterns
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

    @Test func tooDeepANest_isRejected() {
        #expect(validationIssues(pattern, ["resources": 101]).map(\.field) == ["resources"])
        #expect(validationIssues(pattern, ["resources": 0]).map(\.field) == ["resources"])
    }
}
