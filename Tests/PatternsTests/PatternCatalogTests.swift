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

    /// The counters a pattern declares are carried by its events, under their names, and
    /// only by events it declares (the defaults' run shows each one at least once); a counter
    /// that has a result figure of its name ends at that figure.
    @Test(arguments: names)
    func declaredCounters_areCarriedByThePatternsEvents(name: String) async throws {
        let pattern = try #require(catalog.pattern(named: name))
        guard !pattern.counters.isEmpty else { return }
        let run = try await TestRun.execute(pattern)
        for counter in pattern.counters where counter.name != "inner_deadline_ms" {
            let carriers = run.events.filter { $0.data[counter.name]?.intValue != nil }
            #expect(!carriers.isEmpty, "\(name): no event carries \(counter.name)")
            #expect(carriers.allSatisfy { pattern.eventNames.contains($0.name) }, "\(name): \(counter.name) on an undeclared event")
            if let figure = run.result[counter.name], figure.intValue != nil {
                #expect(carriers.last?.data[counter.name] == figure, "\(name): \(counter.name) ends unlike its figure")
            }
        }
        #expect(Set(pattern.counters.map(\.name)).count == pattern.counters.count)
    }

    @Test func smallerLimits_shrinkTheBounds() throws {
        let limits = PatternLimits(maxCount: 50, maxDelayMs: 1_000)
        let issues = validationIssues(SemaphorePattern(), ["count": 51, "delay_ms": 1_001], limits: limits)
        #expect(issues.map(\.field).sorted() == ["count", "delay_ms"])
        #expect(issues.first { $0.field == "count" }?.message == "must be an integer from 1 to 50")
    }
}
