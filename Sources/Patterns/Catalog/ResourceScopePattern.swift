import LabJSON

/// resource-scope: nested resources released exactly once, in reverse order, however the
/// scope ends; acquiring and releasing each takes time, as `__aenter__` and `__aexit__` do.
///
/// - Parameters: `resources` (1...100 nesting levels, at most maxCount) acquired one
///   inside the other, each taking `enter_ms` to acquire and `exit_ms` to release
///   (0...maxDelayMs; 0 by default: instant, as before); the innermost body uses them for
///   `use_ms` (0...maxDelayMs); `fail_in_body` makes the body throw halfway through.
/// - Events: per resource, outermost first: `task.started`, `resource.acquiring` (when
///   `enter_ms` > 0), `resource.acquired` (`held`); then innermost first:
///   `resource.releasing` (when `exit_ms` > 0, with the reason: ok, error or cancelled),
///   `resource.released` (reason, `held`) and the resource's `task.finished` /
///   `task.failed` / `task.cancelled`; `progress` counts releases.
/// - Cancellation: the body's sleep throws, and every acquired resource is still released,
///   innermost first, each exit taking its `exit_ms` (it runs shielded: see below). A
///   resource whose enter was cancelled was never acquired and is not released, as asyncio
///   skips `__aexit__` when `__aenter__` did not return. The run ends `cancelled` but keeps
///   its figures and checks.
/// - Checks: every acquired resource was released exactly once; in the reverse order of
///   acquisition; with `exit_ms` > 0, every exit took its time, whatever ended the scope;
///   with `fail_in_body`, the body's error reached the caller after the releases.
public struct ResourceScopePattern: Pattern {
    /// Ways to break one guarantee each, so tests can show that its check fails.
    enum Fault: Sendable {
        /// The error path skips the release.
        case skipsReleaseOnError
        /// Releases are made from a list after the scope, first acquired first.
        case releasesInAcquisitionOrder
        /// The exit's wait is an ordinary (cancellable) sleep.
        case exitNotShielded
        /// The body's error is swallowed.
        case swallowsBodyError
    }

    let fault: Fault?

    public init() { fault = nil }
    init(fault: Fault?) { self.fault = fault }

    public let name = "resource-scope"
    public let title = "Resource scope: release in reverse, whatever happens"
    public let summary = "Acquires resources one inside the other and uses them; on success, on an error in the body and on cancellation alike, each is released exactly once, the innermost first, and each release takes the time it takes."
    public let asyncioEquivalent = "async with A() as a: async with B() as b: ... (__aenter__ / __aexit__)"
    public let swiftEquivalent = "a with-style scope function: acquire, run the body, release on every path"
    public let swiftNote = "Swift has no async defer: the release runs on each path out of the scope. Cancellation is sticky in Swift (every later sleep of a cancelled task throws at once) where asyncio raises CancelledError once and lets __aexit__ await; so an exit that takes time runs shielded, in a task of its own that the cancellation does not reach, awaited before the scope ends. Once begun, an exit completes (in asyncio a second cancel could interrupt it)."
    public let invariants = [
        "every acquired resource is released exactly once",
        "resources are released in the reverse order of acquisition",
        "every exit takes its exit_ms, on success, failure and cancellation alike",
    ]
    public let eventNames = ["resource.acquiring", "resource.acquired", "resource.releasing", "resource.released"]
    public let counters = [CounterSpec("held", "resources held")]

    public func parameters(limits: PatternLimits) -> [ParameterSpec] {
        [
            .integer("resources", default: 3, min: 1, max: min(100, limits.maxCount), "How many nested resources."),
            .integer("use_ms", default: 100, min: 0, max: limits.maxDelayMs, "How long the body uses them."),
            .boolean("fail_in_body", default: false, "Make the body throw halfway through."),
            .integer("enter_ms", default: 0, min: 0, max: limits.maxDelayMs, "Time to acquire each resource (__aenter__)."),
            .integer("exit_ms", default: 0, min: 0, max: limits.maxDelayMs, "Time to release each resource (__aexit__)."),
        ]
    }

    public func plannedDuration(_ parameters: ParameterSet) -> Duration {
        let perResource = parameters.int("enter_ms") + parameters.int("exit_ms")
        return .milliseconds(parameters.int("resources") * perResource + parameters.int("use_ms"))
    }

    /// Acquisitions and releases in the order they happened (at most 100 entries each),
    /// with the shortest exit seen.
    struct Ledger {
        var acquired: [Int] = []
        var released: [Int] = []
        var shortestExitMs = Double.infinity
    }

    public func run(_ parameters: ParameterSet, context: RunContext) async throws -> PatternOutcome {
        let scope = Scope(parameters)
        context.recorder.setTotal(scope.resources)
        let ledger = Locked(Ledger())
        var ending = "ok"
        do {
            try await enter(level: 0, scope, ledger, context)
        } catch is InjectedFailure {
            ending = "error"
        } catch is CancellationError {
            ending = "cancelled"
        }
        if fault == .releasesInAcquisitionOrder {
            for level in ledger.value.acquired { try await release(level, reason: ending, scope, ledger, context) }
        }
        return outcome(ledger.value, scope, ending: ending)
    }

    /// Resource `level` around the rest of the scope; past the last level, the body.
    private func enter(level: Int, _ scope: Scope, _ ledger: Locked<Ledger>, _ context: RunContext) async throws {
        guard level < scope.resources else { return try await body(scope, context) }
        try await context.task(level, label: "resource-\(level)") {
            if scope.enterMs > 0 {
                context.emit("resource.acquiring", ["resource": .int(level)])
                try await context.sleep(ms: scope.enterMs)
            }
            let held = ledger.withLock { ledger -> Int in
                ledger.acquired.append(level)
                return ledger.acquired.count - ledger.released.count
            }
            context.emit("resource.acquired", ["resource": .int(level), "held": .int(held)])
            let releasesHere = fault != .releasesInAcquisitionOrder
            do {
                try await enter(level: level + 1, scope, ledger, context)
            } catch {
                let reason = error is CancellationError ? "cancelled" : "error"
                if releasesHere && fault != .skipsReleaseOnError { try await release(level, reason: reason, scope, ledger, context) }
                if fault == .swallowsBodyError && error is InjectedFailure { return }
                throw error
            }
            if releasesHere { try await release(level, reason: "ok", scope, ledger, context) }
        }
    }

    private func body(_ scope: Scope, _ context: RunContext) async throws {
        guard scope.failInBody else { return try await context.sleep(ms: scope.useMs) }
        try await context.sleep(ms: scope.useMs / 2)
        throw InjectedFailure(task: scope.resources - 1)
    }

    /// `__aexit__`: takes `exit_ms` even in a cancelled task (shielded), then counts the
    /// release.
    private func release(
        _ level: Int, reason: String, _ scope: Scope, _ ledger: Locked<Ledger>, _ context: RunContext
    ) async throws {
        let startMs = context.elapsedMs()
        if scope.exitMs > 0 {
            context.emit("resource.releasing", ["resource": .int(level), "reason": .string(reason)])
            if fault == .exitNotShielded {
                try? await context.sleep(ms: scope.exitMs)
            } else {
                try await context.shielded { try await context.sleep(ms: scope.exitMs) }
            }
        }
        let exitMs = context.elapsedMs() - startMs
        let held = ledger.withLock { ledger -> Int in
            ledger.released.append(level)
            ledger.shortestExitMs = min(ledger.shortestExitMs, exitMs)
            return ledger.acquired.count - ledger.released.count
        }
        context.emit("resource.released", ["resource": .int(level), "reason": .string(reason), "held": .int(held)])
    }

    private func outcome(_ ledger: Ledger, _ scope: Scope, ending: String) -> PatternOutcome {
        var releases = [Int](repeating: 0, count: scope.resources)
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
        if scope.exitMs > 0 && !ledger.released.isEmpty {
            checks.append(
                .atLeastMs(
                    "every_exit_took_its_time", observedMs: ledger.shortestExitMs, minimumMs: Double(scope.exitMs),
                    "exit_ms, the shortest exit"))
        }
        if scope.failInBody && ending != "cancelled" {
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
                "shortest_exit_ms": ledger.released.isEmpty ? .null : .milliseconds(ledger.shortestExitMs),
            ],
            checks: checks)
    }
}

/// A resource-scope run's parameters, read once.
private struct Scope: Sendable {
    let resources, useMs, enterMs, exitMs: Int
    let failInBody: Bool

    init(_ parameters: ParameterSet) {
        resources = parameters.int("resources")
        useMs = parameters.int("use_ms")
        enterMs = parameters.int("enter_ms")
        exitMs = parameters.int("exit_ms")
        failInBody = parameters.bool("fail_in_body")
    }
}
