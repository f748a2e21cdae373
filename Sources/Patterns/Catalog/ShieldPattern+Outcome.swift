import LabJSON

extension ShieldPattern {
    func outcome(_ setup: ShieldSetup, _ log: ShieldLog) -> PatternOutcome {
        let innerCompletedMs = log.innerEnd.flatMap { $0.completed ? $0.ms : nil } ?? .infinity
        let outer = log.outerEnd
        let outerEndedEarly = outer.map { ["cancel", "timeout"].contains($0.how) && $0.ms >= Double(setup.cancelAfterMs) && $0.ms < innerCompletedMs } ?? false
        var checks: [Check] = []
        if setup.shielded {
            checks.append(
                Check(
                    name: "inner_completed", expected: "completed, at >= \(setup.operationMs) ms",
                    observed: .string(describe(log.innerEnd)),
                    passed: innerCompletedMs >= Double(setup.operationMs) && innerCompletedMs.isFinite))
        } else {
            let cancelledWithOuter = log.innerEnd.map { !$0.completed && $0.ms <= (outer?.ms ?? -1) } ?? false
            checks.append(
                Check(
                    name: "inner_cancelled_with_outer", expected: "cancelled, no later than the outer wait ended",
                    observed: .string(describe(log.innerEnd)), passed: cancelledWithOuter))
        }
        checks.append(
            Check(
                name: "outer_cancelled_at_cancel_time",
                expected: "\(setup.byTimeout ? "timed out" : "cancelled") at >= \(setup.cancelAfterMs) ms, before the inner completed",
                observed: .string(outer.map { "\($0.how) at \(JSONValue.milliseconds($0.ms).serialized()) ms" } ?? "never ended"),
                passed: outerEndedEarly))
        if setup.shielded {
            let delivered = log.delivered.map { $0.value == setup.operationMs && $0.ms >= innerCompletedMs } ?? false
            checks.append(
                Check(
                    name: "result_delivered_to_keeper", expected: "the inner's value (\(setup.operationMs)), once it completed",
                    observed: log.delivered.map { .int($0.value) } ?? .null, passed: delivered))
        } else {
            checks.append(
                Check(
                    name: "result_not_delivered", expected: "nothing: the inner was cancelled",
                    observed: log.delivered.map { .int($0.value) } ?? .null, passed: log.delivered == nil))
        }
        return PatternOutcome(
            result: [
                "shield": .bool(setup.shielded), "how": .string(setup.byTimeout ? "timeout" : "cancel"),
                "inner_completed": .bool(innerCompletedMs.isFinite),
                "inner_end_ms": log.innerEnd.map { .milliseconds($0.ms) } ?? .null,
                "outer_end_ms": outer.map { .milliseconds($0.ms) } ?? .null,
                "outer_ended_by": outer.map { .string($0.how) } ?? .null,
                "result_delivered": log.delivered.map { .int($0.value) } ?? .null,
                "delivered_ms": log.delivered.map { .milliseconds($0.ms) } ?? .null,
            ],
            checks: checks)
    }

    private func describe(_ end: (completed: Bool, ms: Double)?) -> String {
        guard let end else { return "never ended" }
        return "\(end.completed ? "completed" : "cancelled") at \(JSONValue.milliseconds(end.ms).serialized()) ms"
    }
}
