import LabJSON

/// resource-scope: nested resources released exactly once, in reverse order, however the
/// scope ends.
///
/// - Parameters: `resources` (1...100 nesting levels, at most maxCount) acquired one
///   inside the other; the innermost body uses them for `use_ms` (0...maxDelayMs);
///   `fail_in_body` makes the body throw halfway through.
/// - Events: `task.started` and `resource.acquired` per resource, outermost first; then
///   `resource.released` (with the reason: ok, error or cancelled) and the resource's
///   `task.finished` / `task.failed` / `task.cancelled`, innermost first; `progress`
///   counts releases.
/// - Cancellation: the body's sleep throws, and every acquired resource is still released,
///   innermost first. The run ends `cancelled` but keeps its figures and checks.
/// - Checks: every acquired resource was released exactly once; the release order is the
///   reverse of the acquisition order; with `fail_in_body`, the body's error reached the
///   caller after the releases.
public struct ResourceScopePattern: Pattern {
    public init() {}

    public let name = "resource-scope"
    public let title = "Resource scope: release in reverse, whatever happens"
    public let summary = "Acquires resources one inside the other and uses them; on success, on an error in the body and on cancellation alike, each is released exactly once, the innermost first."
    public let asyncioEquivalent = "async with A() as a: async with B() as b: ... (__aenter__ / __aexit__)"
    public let swiftEquivalent = "a with-style scope function: acquire, run the body, release on every path"
    public let swiftNote = "Swift has no async defer: the release runs on each path out of the scope. A cancelled task cannot await a cancellable sleep during cleanup (it would throw at once), so a release must not depend on one; here release is synchronous."
    public let invariants = [
        "every acquired resource is released exactly once",
        "resources are released in the reverse order of acquisition",
        "on success, on failure and on cancellation alike",
    ]
    public let eventNames = ["resource.acquired", "resource.released"]

    public func parameters(limits: PatternLimits) -> [ParameterSpec] {
        [
            .integer("resources", default: 3, min: 1, max: min(100, limits.maxCount), "How many nested resources."),
            .integer("use_ms", default: 100, min: 0, max: limits.maxDelayMs, "How long the body uses them."),
            .boolean("fail_in_body", default: false, "Make the body throw halfway through."),
        ]
    }

    public func plannedDuration(_ parameters: ParameterSet) -> Duration {
        .milliseconds(parameters.int("use_ms"))
    }

    /// Acquisitions and releases in the order they happened (at most 100 entries each).
    struct Ledger {
        var acquired: [Int] = []
        var released: [Int] = []
    }

    public func run(_ parameters: ParameterSet, context: RunContext) async throws -> PatternOutcome {
        let resources = parameters.int("resources")
        context.recorder.setTotal(resources)
        let ledger = Locked(Ledger())
        var ending = "ok"
        do {
            try await scope(level: 0, parameters, ledger, context)
        } catch is InjectedFailure {
            ending = "error"
        } catch is CancellationError {
            ending = "cancelled"
        }
        return outcome(ledger.value, resources: resources, ending: ending, failInBody: parameters.bool("fail_in_body"))
    }

    /// Resource `level` around the rest of the scope; past the last level, the body.
    private func scope(level: Int, _ parameters: ParameterSet, _ ledger: Locked<Ledger>, _ context: RunContext) async throws {
        guard level < parameters.int("resources") else { return try await body(parameters, context) }
        try await context.task(level, label: "resource-\(level)") {
            ledger.withLock { $0.acquired.append(level) }
            context.emit("resource.acquired", ["resource": .int(level)])
            do {
                try await scope(level: level + 1, parameters, ledger, context)
            } catch {
                release(level, reason: error is CancellationError ? "cancelled" : "error", ledger, context)
                throw error
            }
            release(level, reason: "ok", ledger, context)
        }
    }

    private func body(_ parameters: ParameterSet, _ context: RunContext) async throws {
        let useMs = parameters.int("use_ms")
        guard parameters.bool("fail_in_body") else { return try await context.sleep(ms: useMs) }
        try await context.sleep(ms: useMs / 2)
        throw InjectedFailure(task: parameters.int("resources") - 1)
    }

    /// Synchronous on purpose: it must complete even in a cancelled task.
    private func release(_ level: Int, reason: String, _ ledger: Locked<Ledger>, _ context: RunContext) {
        ledger.withLock { $0.released.append(level) }
        context.emit("resource.released", ["resource": .int(level), "reason": .string(reason)])
    }

    private func outcome(_ ledger: Ledger, resources: Int, ending: String, failInBody: Bool) -> PatternOutcome {
        var releases = [Int](repeating: 0, count: resources)
        for level in ledger.released { releases[level] += 1 }
        let releasedOnce = ledger.acquired.count { releases[$0] == 1 }
        let strays = ledger.released.count - releasedOnce
        var checks: [Check] = [
            Check(
                name: "every_resource_released_once",
                expected: "\(ledger.acquired.count) acquired, each released once, nothing else released",
                observed: .int(releasedOnce), passed: releasedOnce == ledger.acquired.count && strays == 0),
            Check(
                name: "released_in_reverse_order", expected: .init(describing: Array(ledger.acquired.reversed())),
                observed: .array(ledger.released.map(JSONValue.int)), passed: ledger.released == ledger.acquired.reversed()),
        ]
        if failInBody && ending != "cancelled" {
            checks.append(
                Check(
                    name: "body_error_reached_caller", expected: "error", observed: .string(ending),
                    passed: ending == "error"))
        }
        return PatternOutcome(
            result: [
                "ended_by": .string(ending), "acquired": .int(ledger.acquired.count),
                "released": .int(ledger.released.count),
                "acquire_order": .array(ledger.acquired.map(JSONValue.int)),
                "release_order": .array(ledger.released.map(JSONValue.int)),
            ],
            checks: checks)
    }
}
