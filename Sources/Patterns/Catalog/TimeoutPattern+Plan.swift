import LabJSON

/// A timeout run's parameters, read once, with the deadlines they put in effect.
struct TimeoutPlan: Sendable {
    let operationMs, timeoutMs: Int
    let style: String
    let innerMs: Int?
    let rescheduleAtMs: Int?
    let rescheduleToMs: Int?

    init(_ parameters: ParameterSet) {
        operationMs = parameters.int("operation_ms")
        timeoutMs = parameters.int("timeout_ms")
        style = parameters.string("style")
        innerMs = parameters.optionalInt("inner_timeout_ms")
        rescheduleAtMs = parameters.optionalInt("reschedule_at_ms")
        rescheduleToMs = parameters.optionalInt("reschedule_to_ms")
    }

    /// The outer deadline once the reschedule (if any) happened.
    var outerDeadlineMs: Int { rescheduleToMs ?? timeoutMs }
    var firstDeadlineMs: Int { min(outerDeadlineMs, innerMs ?? .max) }
    /// The scope whose deadline comes first.
    var firingScope: String { (innerMs ?? .max) < outerDeadlineMs ? "inner" : "outer" }

    var issues: [FieldIssue] {
        var issues: [FieldIssue] = []
        if rescheduleAtMs != nil || rescheduleToMs != nil { issues += rescheduleIssues }
        if let innerMs, innerMs == outerDeadlineMs {
            issues.append(FieldIssue(field: "inner_timeout_ms", message: "must differ from the outer deadline: equal deadlines race"))
        }
        if operationMs == firstDeadlineMs {
            let field = firingScope == "inner" ? "inner_timeout_ms" : (rescheduleToMs == nil ? "timeout_ms" : "reschedule_to_ms")
            issues.append(FieldIssue(field: field, message: "must differ from operation_ms: equal deadlines race"))
        }
        return issues
    }

    private var rescheduleIssues: [FieldIssue] {
        guard let at = rescheduleAtMs, let to = rescheduleToMs else {
            let missing = rescheduleAtMs == nil ? "reschedule_at_ms" : "reschedule_to_ms"
            return [FieldIssue(field: missing, message: "reschedule_at_ms and reschedule_to_ms go together")]
        }
        var issues: [FieldIssue] = []
        if style != "deadline" {
            issues.append(FieldIssue(field: "style", message: "must be 'deadline' to reschedule (asyncio.timeout has reschedule, wait_for does not)"))
        }
        if at >= min(operationMs, timeoutMs, innerMs ?? .max) {
            issues.append(
                FieldIssue(field: "reschedule_at_ms", message: "must come while the operation runs, before any deadline passes"))
        }
        if to <= at { issues.append(FieldIssue(field: "reschedule_to_ms", message: "must be later than reschedule_at_ms")) }
        return issues
    }
}

/// What a timeout run observed.
struct TimeoutObservation {
    let value: Int?
    let surfaced: TimeoutScopeExpired?
    let elapsedMs: Double
    let sawCancellation: Bool
    let outerExpired: Bool
    let innerExpired: Bool?
}

extension TimeoutPattern {
    /// The operation: one sleep (wait_for) or two halves (deadline), moving the outer
    /// deadline at `reschedule_at_ms`. Sleeps are until instants since `start`.
    func perform(_ plan: TimeoutPlan, from start: Duration, outer: TimeoutScope, context: RunContext) async throws {
        var moments: [(ms: Int, step: Step)] = [(plan.operationMs, .end)]
        if plan.style == "deadline" { moments.append((plan.operationMs / 2, .half)) }
        if let at = plan.rescheduleAtMs { moments.append((at, .reschedule)) }
        for (ms, step) in moments.sorted(by: { $0.ms < $1.ms }) {
            let instant = start + .milliseconds(ms)
            if fault == .operationIgnoresCancellation {
                try await context.shielded { try await context.clock.sleep(until: instant) }
            } else {
                try await context.clock.sleep(until: instant)
            }
            switch step {
            case .reschedule:
                guard let to = plan.rescheduleToMs, fault != .ignoresReschedule else { continue }
                outer.reschedule(to: start + .milliseconds(to))
                context.emit("timeout.rescheduled", ["scope": "outer", "deadline_ms": .int(to)])
            case .half:
                context.emit("operation.step", ["step": 1])
            case .end:
                if plan.style == "deadline" { context.emit("operation.step", ["step": 2]) }
            }
        }
    }

    enum Step { case half, reschedule, end }

    func outcome(_ plan: TimeoutPlan, _ observed: TimeoutObservation) -> PatternOutcome {
        let timedOut = observed.value == nil
        let deadline = plan.firstDeadlineMs
        let shouldTimeOut = plan.operationMs > deadline
        var checks = [
            Check(
                name: "timed_out_iff_operation_exceeds_timeout",
                expected: shouldTimeOut
                    ? "timed out (\(plan.operationMs) > \(deadline))" : "completed (\(plan.operationMs) < \(deadline))",
                observed: .bool(timedOut), passed: timedOut == shouldTimeOut)
        ]
        if timedOut {
            checks.append(.atLeastMs("elapsed_at_least_timeout", observedMs: observed.elapsedMs, minimumMs: Double(deadline)))
            checks.append(.isTrue("operation_saw_cancellation", observed.sawCancellation))
        } else {
            checks.append(.atLeastMs("elapsed_at_least_operation", observedMs: observed.elapsedMs, minimumMs: Double(plan.operationMs)))
            checks.append(.equal("operation_value_returned", observed: observed.value ?? -1, expected: plan.operationMs))
        }
        if plan.innerMs != nil && timedOut { checks += nestingChecks(plan, observed) }
        return PatternOutcome(result: figures(plan, observed), checks: checks)
    }

    /// Which scope fired, and that its expiry was not claimed by the other.
    private func nestingChecks(_ plan: TimeoutPlan, _ observed: TimeoutObservation) -> [Check] {
        let scope = observed.surfaced?.scope ?? "none"
        let expiredScopes = [observed.innerExpired == true ? "inner" : nil, observed.outerExpired ? "outer" : nil].compactMap { $0 }
        return [
            Check(
                name: "earlier_deadline_fired", expected: "\(plan.firingScope) (deadline \(plan.firstDeadlineMs) ms)",
                observed: .string(expiredScopes.joined(separator: ", ")), passed: expiredScopes == [plan.firingScope]),
            Check(
                name: "expiry_attributed_to_its_scope",
                expected: "the error leaving the outer scope names the scope that expired, and only that one expired",
                observed: .string("error from \(scope); expired: \(expiredScopes.isEmpty ? "none" : expiredScopes.joined(separator: ", "))"),
                passed: expiredScopes == [scope]),
        ]
    }

    private func figures(_ plan: TimeoutPlan, _ observed: TimeoutObservation) -> [String: JSONValue] {
        [
            "style": .string(plan.style), "timed_out": .bool(observed.value == nil),
            "elapsed_ms": .milliseconds(observed.elapsedMs), "operation_ms": .int(plan.operationMs),
            "timeout_ms": .int(plan.timeoutMs), "operation_saw_cancellation": .bool(observed.sawCancellation),
            "first_deadline_ms": .int(plan.firstDeadlineMs), "inner_timeout_ms": plan.innerMs.map(JSONValue.int) ?? .null,
            "rescheduled_to_ms": plan.rescheduleToMs.map(JSONValue.int) ?? .null,
            "expired_scope": observed.surfaced.map { .string($0.scope) } ?? .null,
            "outer_expired": .bool(observed.outerExpired), "inner_expired": observed.innerExpired.map(JSONValue.bool) ?? .null,
        ]
    }
}
