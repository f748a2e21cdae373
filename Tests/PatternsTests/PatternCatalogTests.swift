import Patterns
import TestSupport
import Testing

@Suite struct PatternCatalogTests {
    static let names = PatternCatalog.builtIn.map(\.name)
    let catalog = PatternCatalog()

    @Test func catalog_listsThePatternsInTheDesignOrder() {
        #expect(
            Self.names == [
                "gather", "task-group", "timeout", "semaphore", "producer-consumer", "gather-errors", "event", "lock",
                "periodic", "first-completed", "resource-scope", "blocking-offload",
                "retry", "circuit-breaker", "rate-limiter", "hedging", "bulkhead", "deadline-propagation", "debounce-throttle",
            ])
    }

    @Test(arguments: names)
    func defaults_onTheManualClock_passEveryCheck(name: String) async throws {
        let pattern = try #require(catalog.pattern(named: name))
        let run = try await TestRun.execute(pattern)
        #expect(run.status == .succeeded)
        #expect(!run.checks.isEmpty)
        #expect(run.failedChecks.isEmpty, "\(run.failedChecks.map { $0.json.serialized() })")
        #expect(run.checks.count == Set(run.checkNames).count)
    }

    @Test(arguments: names)
    func everyEntry_describesItself(name: String) throws {
        let pattern = try #require(catalog.pattern(named: name))
        let entry = catalog.entry(pattern)
        for key in ["title", "summary", "asyncio", "swift"] {
            #expect(entry[key]?.stringValue?.isEmpty == false, "\(name) has no \(key)")
        }
        #expect(entry["invariants"]?.arrayValue?.isEmpty == false)
        let specs = pattern.parameters(limits: catalog.limits)
        #expect(Set(specs.map(\.name)).count == specs.count)
        #expect(specs.allSatisfy { !$0.description.isEmpty })
    }

    @Test(arguments: names)
    func unknownParameter_isRejectedByName(name: String) throws {
        let pattern = try #require(catalog.pattern(named: name))
        let issues = validationIssues(pattern, ["colour": "red"])
        #expect(issues.map(\.field) == ["colour"])
    }

    @Test(arguments: names)
    func defaults_fitTheLimits(name: String) throws {
        let pattern = try #require(catalog.pattern(named: name))
        #expect(validationIssues(pattern, [:]).isEmpty)
        let defaults = try catalog.validate([:], for: pattern).get()
        #expect(pattern.plannedDuration(defaults) <= .seconds(1))
    }

    @Test func smallerLimits_shrinkTheBounds() throws {
        let limits = PatternLimits(maxCount: 50, maxDelayMs: 1_000)
        let issues = validationIssues(SemaphorePattern(), ["count": 51, "delay_ms": 1_001], limits: limits)
        #expect(issues.map(\.field).sorted() == ["count", "delay_ms"])
        #expect(issues.first { $0.field == "count" }?.message == "must be an integer from 1 to 50")
    }
}
