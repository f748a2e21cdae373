import LabJSON

extension WaitPattern {
    func outcome(_ setup: WaitSetup, _ state: WaitState) -> PatternOutcome {
        guard let returned = state.returned else { return PatternOutcome(result: [:], checks: []) }
        let done = Set(returned.done)
        let pending = (0..<setup.count).filter { !done.contains($0) }
        let natural = state.ends.filter { $0.value.outcome != .cancelled }
        let instant = expectedInstant(setup, natural)
        let sure = Set(natural.filter { $0.value.ms <= instant }.keys)
        let possible = Set(natural.filter { $0.value.ms <= instant + 1 }.keys)
        var checks: [Check] = [
            Check(
                name: "done_and_pending_as_asyncio_returns_them",
                expected: "done: \(sure.sorted()) (the tasks ended by \(JSONValue.milliseconds(instant).serialized()) ms), pending: the rest",
                observed: ["done": .array(returned.done.prefix(100).map(JSONValue.int)), "pending": .array(pending.prefix(100).map(JSONValue.int))],
                passed: sure.isSubset(of: done) && done.isSubset(of: possible))
        ]
        let cancelledPending = pending.count { state.ends[$0]?.outcome == .cancelled }
        let ranOn = pending.count { state.ends[$0].map { $0.outcome != .cancelled && $0.ms >= returned.ms } ?? false }
        if setup.cancelPending {
            checks.append(.equal("pending_cancelled_when_asked", observed: cancelledPending, expected: pending.count))
        } else {
            checks.append(
                Check(
                    name: "pending_not_cancelled", expected: "all \(pending.count) pending ran on to their own end, 0 cancelled",
                    observed: .string("\(ranOn) ran on, \(cancelledPending) cancelled"),
                    passed: ranOn == pending.count && cancelledPending == 0))
        }
        if let timeoutMs = setup.timeoutMs { checks.append(timeoutCheck(setup, state, returned, done, timeoutMs)) }
        return PatternOutcome(
            result: [
                "return_when": .string(setup.rule), "timed_out": .bool(returned.timedOut),
                "returned_ms": .milliseconds(returned.ms), "done": .array(returned.done.prefix(100).map(JSONValue.int)),
                "pending": .array(pending.prefix(100).map(JSONValue.int)),
                "raised": .array(state.ends.filter { $0.value.outcome == .raised }.keys.sorted().prefix(100).map(JSONValue.int)),
                "pending_cancelled": .int(cancelledPending), "pending_ran_on": .int(ranOn),
            ],
            checks: checks)
    }

    /// When asyncio.wait would return for these ends: the first instant the rule holds over
    /// the tasks ended by then, or the timeout if that comes first.
    private func expectedInstant(_ setup: WaitSetup, _ natural: [Int: (outcome: WaitState.Outcome, ms: Double)]) -> Double {
        var ended = 0
        var raised = 0
        var metAt = Double.infinity
        for end in natural.values.sorted(by: { $0.ms < $1.ms }) {
            ended += 1
            if end.outcome == .raised { raised += 1 }
            if setup.ruleHolds(ended: ended, raised: raised) {
                metAt = end.ms
                break
            }
        }
        return min(metAt, setup.timeoutMs.map(Double.init) ?? .infinity)
    }

    private func timeoutCheck(
        _ setup: WaitSetup, _ state: WaitState, _ returned: (ms: Double, done: [Int], timedOut: Bool), _ done: Set<Int>,
        _ timeoutMs: Int
    ) -> Check {
        let raisedDone = done.count { state.ends[$0]?.outcome == .raised }
        let metByReturn = setup.ruleHolds(ended: done.count, raised: raisedDone)
        let passed =
            returned.timedOut ? returned.ms >= Double(timeoutMs) && !metByReturn : metByReturn && returned.ms <= Double(timeoutMs)
        return Check(
            name: "timeout_only_when_rule_unmet",
            expected: "at \(timeoutMs) ms if \(setup.rule) was not met by then, else when it was",
            observed: .string(
                "\(returned.timedOut ? "timed out" : "rule met") at \(JSONValue.milliseconds(returned.ms).serialized()) ms"),
            passed: passed)
    }
}
