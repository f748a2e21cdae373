import LabJSON
import Foundation
import Patterns
import Runs
import Testing

/// Same parameters, same seed, `clock: virtual`: the same run, byte for byte, but for its id
/// and its wall-clock timestamps. Every pattern of the catalog is run twice through the
/// registry (the service's own path), so a pattern added later is covered by being listed.
@Suite struct VirtualRunDeterminismTests {
    static let names = PatternCatalog.builtIn.map(\.name)

    /// Members that say when (in the wall clock's time) or which run it was.
    static let wallClockMembers: Set<String> = ["id", "created_at", "started_at", "finished_at", "real_ms", "links"]

    /// The record's JSON without its id and wall-clock times, as text (compared as bytes).
    static func comparable(_ record: JSONValue) -> String {
        JSONValue.object((record.objectValue ?? [:]).filter { !wallClockMembers.contains($0.key) }).serialized()
    }

    /// Every event as `id name data`; `run.finished` (whose data is the record) compared
    /// like the record.
    static func comparable(_ events: [StoredEvent]) -> [String] {
        events.map { event in
            guard event.name == "run.finished", let data = try? JSONValue.parse(event.data) else {
                return "\(event.id) \(event.name) \(event.dataText)"
            }
            return "\(event.id) \(event.name) \(comparable(data))"
        }
    }

    /// Two virtual runs of `pattern` with `parameters`; records an issue for each way they
    /// differ, and returns the first.
    private func twoRuns(
        _ pattern: String, _ parameters: [String: JSONValue], catalog: PatternCatalog? = nil
    ) async throws -> (FinishedRun, FinishedRun) {
        var virtual = parameters
        virtual["clock"] = "virtual"
        let frozen = virtual
        return try await withServingRegistry(catalog: catalog) { registry in
            (try await registry.finishedRun(pattern, frozen), try await registry.finishedRun(pattern, frozen))
        }
    }

    @Test(arguments: names)
    func twoVirtualRuns_withTheSameParameters_areTheSameRun(name: String) async throws {
        let pattern = try #require(PatternCatalog().pattern(named: name))
        if pattern.virtualClockRefusal != nil {
            // Refused before anything starts: nothing to compare (see the refusal's own test).
            // Only blocking-offload, whose calls hold real threads for real time.
            #expect(name == "blocking-offload")
            await #expect(throws: RunsError.self) { _ = try await twoRuns(name, [:]) }
            return
        }
        let (first, second) = try await twoRuns(name, [:])
        #expect(first.record.id != second.record.id)
        #expect(first.record.status == .succeeded)
        #expect(first.record.checksPassed == true)
        #expect(Self.comparable(first.record.json()) == Self.comparable(second.record.json()))
        #expect(Self.comparable(first.events) == Self.comparable(second.events))
    }

    /// Runs whose randomness comes from the seed: jitter, failure rates, racers' delays.
    @Test(arguments: [
        ("gather", ["count": 200, "delay_ms": 50, "jitter_ms": 900, "seed": 7] as [String: JSONValue]),
        ("gather-errors", ["count": 40, "failure_rate": 30, "seed": 3, "return_exceptions": true]),
        ("first-completed", ["count": 12, "jitter_ms": 400, "seed": 11]),
        ("producer-consumer", ["items": 300, "producers": 3, "consumers": 4, "maxsize": 5, "produce_ms": 3, "consume_ms": 7]),
    ])
    func seededVirtualRuns_areTheSameRun(name: String, parameters: [String: JSONValue]) async throws {
        let (first, second) = try await twoRuns(name, parameters)
        #expect(first.record.status == .succeeded)
        #expect(Self.comparable(first.record.json()) == Self.comparable(second.record.json()))
        #expect(Self.comparable(first.events) == Self.comparable(second.events))
    }

    /// debounce's own unstructured task runs on the run's thread (`GlobalJobRouting`): a
    /// longer schedule, whose bursts debounce and throttle both cut, is the same run twice,
    /// and its checks pass on what it observed.
    @Test func debounceThrottle_onTheVirtualClock_isTheSameRunTwice() async throws {
        let parameters: [String: JSONValue] = [
            "bursts": 40, "burst_size": 12, "event_gap_ms": 5, "quiet_ms": 70, "debounce_ms": 30, "throttle_ms": 25,
        ]
        let (first, second) = try await twoRuns("debounce-throttle", parameters)
        #expect(first.record.status == .succeeded)
        #expect(first.record.checksPassed == true)
        #expect(first.events.filter { $0.name == "debounce.emitted" }.count == 40)
        #expect(Self.comparable(first.record.json()) == Self.comparable(second.record.json()))
        #expect(Self.comparable(first.events) == Self.comparable(second.events))
    }

    /// The comparison can fail: a pattern that reads the machine's clock (what patterns must
    /// never do) gives two different runs, and the comparison says so.
    @Test func aPatternThatReadsTheWallClock_isCaught() async throws {
        let catalog = PatternCatalog(patterns: [WallClockPattern()])
        let (first, second) = try await twoRuns("wall-clock", [:], catalog: catalog)
        #expect(Self.comparable(first.record.json()) != Self.comparable(second.record.json()))
    }
}

/// Breaks the rule on purpose: its figure comes from the system's clock, not the run's.
struct WallClockPattern: Pattern {
    let name = "wall-clock"
    let title = "wall clock"
    let summary = "reads the system clock"
    let asyncioEquivalent = ""
    let swiftEquivalent = ""
    let invariants: [String] = []

    func parameters(limits: PatternLimits) -> [ParameterSpec] { [] }
    func plannedDuration(_ parameters: ParameterSet) -> Duration { .zero }

    func run(_ parameters: ParameterSet, context: RunContext) async throws -> PatternOutcome {
        try await context.sleep(ms: 10)
        return PatternOutcome(result: ["uptime_ns": .int(Int(DispatchTime.now().uptimeNanoseconds))], checks: [])
    }
}
