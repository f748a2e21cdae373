import LabJSON
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
                "periodic", "first-completed", "resource-scope", "blocking-offload", "as-completed", "shield", "condition",
                "barrier", "wait", "pipeline",
                "retry", "circuit-breaker", "rate-limiter", "hedging", "bulkhead", "deadline-propagation", "debounce-throttle",
            ])
    }

    @Test(arguments: names)
    func defaults_onTheVirtualClock_passEveryCheck(name: String) async throws {
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

    /// `clock` is the catalog's, not each pattern's: every entry lists it, validation knows
    /// it, and no pattern may declare a parameter of that name itself.
    @Test(arguments: names)
    func everyEntry_listsTheClock_andNoPatternDeclaresItItself(name: String) throws {
        let pattern = try #require(catalog.pattern(named: name))
        let specs = try #require(catalog.entry(pattern)["parameters"]?.arrayValue)
        let clock = try #require(specs.first { $0["name"] == "clock" })
        #expect(clock["default"] == "real")
        #expect(clock["choices"] == ["real", "virtual"])
        let own = Set(pattern.parameters(limits: catalog.limits).map(\.name))
        #expect(own.isDisjoint(with: PatternCatalog.commonParameters.map(\.name)))
        #expect(validationIssues(pattern, ["clock": "sundial"]).map(\.field) == ["clock"])
    }

    @Test func blockingWork_refusesTheVirtualClock_namingTheFieldAndWhy() throws {
        let issues = validationIssues(BlockingOffloadPattern(), ["clock": "virtual"])
        #expect(issues.map(\.field) == ["clock"])
        #expect(issues.first?.message.contains("cannot run on a virtual clock") == true)
        #expect(issues.first?.message.contains("block real threads") == true)
        #expect(validationIssues(BlockingOffloadPattern(), ["clock": "real"]).isEmpty)
    }

    /// debounce's own unstructured task runs on the virtual run's thread (`GlobalJobRouting`):
    /// accepted, and its entry's clock says nothing of a refusal. Only blocking-offload refuses.
    @Test func debounce_takesTheVirtualClock_onlyBlockingOffloadRefusesIt() throws {
        #expect(validationIssues(DebounceThrottlePattern(), ["clock": "virtual"]).isEmpty)
        let specs = try #require(catalog.entry(DebounceThrottlePattern())["parameters"]?.arrayValue)
        let clock = try #require(specs.first { $0["name"] == "clock" })
        #expect(clock["description"]?.stringValue?.contains("refuses") == false)
        #expect(PatternCatalog.builtIn.filter { $0.virtualClockRefusal != nil }.map(\.name) == ["blocking-offload"])
    }

    /// A virtual run's plan is simulated time: bounded by the virtual limit (a day by
    /// default), not by the real one.
    @Test func plannedDuration_isBoundedByTheLimitOfTheRunsClock() throws {
        let seventeenMinutes: [String: JSONValue] = ["count": 10_000, "limit": 100, "delay_ms": 10_000]
        #expect(validationIssues(SemaphorePattern(), seventeenMinutes).map(\.field) == ["params"])
        var virtual = seventeenMinutes
        virtual["clock"] = "virtual"
        #expect(validationIssues(SemaphorePattern(), virtual).isEmpty)
        let limits = PatternLimits(maxVirtualDuration: .seconds(900))
        let issues = validationIssues(SemaphorePattern(), virtual, limits: limits)
        #expect(issues.map(\.field) == ["params"])
        #expect(issues.first?.message == "planned duration 1000000 ms exceeds the virtual time limit of 900 s")
    }

    @Test func smallerLimits_shrinkTheBounds() throws {
        let limits = PatternLimits(maxCount: 50, maxDelayMs: 1_000)
        let issues = validationIssues(SemaphorePattern(), ["count": 51, "delay_ms": 1_001], limits: limits)
        #expect(issues.map(\.field).sorted() == ["count", "delay_ms"])
        #expect(issues.first { $0.field == "count" }?.message == "must be an integer from 1 to 50")
    }
}
