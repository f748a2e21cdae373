import LabJSON

/// What a task-group run's children did, counted as they end.
struct GroupTally: Sendable {
    var completed = 0
    var cancelled = 0
    var completedAfterCancel = 0
    var ended = 0
    var lastChildEndMs = 0.0
    var cancelRequested = false
    /// Every failure a child raised, with its time, in the order they were raised.
    var failures: [(task: Int, ms: Double)] = []
}

/// Which children fail, and when: `fail_indices` (at `fail_at_ms`, else `fail_after_ms`),
/// or else `fail_index` (-1: none).
struct ChildFailurePlan: Sendable {
    private let times: [Int: Int]

    init(_ parameters: ParameterSet) {
        let after = parameters.int("fail_after_ms")
        if let indices = parameters.intList("fail_indices") {
            let at = parameters.intList("fail_at_ms") ?? Array(repeating: after, count: indices.count)
            times = Dictionary(zip(indices, at), uniquingKeysWith: { first, _ in first })
        } else {
            let index = parameters.int("fail_index")
            times = index >= 0 ? [index: after] : [:]
        }
    }

    func failureTime(of child: Int) -> Int? { times[child] }

    var latestFailureMs: Int { times.values.max() ?? 0 }
}

extension TaskGroupPattern {
    func outcome(_ tally: GroupTally, collected: [InjectedFailure], count: Int, groupEndMs: Double) -> PatternOutcome {
        var checks: [Check] = []
        let raised = tally.failures.map(\.task)
        if let first = collected.first {
            let earliestMs = tally.failures.map(\.ms).min() ?? 0
            let firstMs = tally.failures.first { $0.task == first.task }?.ms ?? .infinity
            checks.append(
                Check(
                    name: "first_error_surfaced",
                    expected: "a failure raised at the earliest failure time (\(JSONValue.milliseconds(earliestMs).serialized()) ms, within 1 ms)",
                    observed: .string("\(first) at \(JSONValue.milliseconds(firstMs).serialized()) ms"),
                    passed: firstMs <= earliestMs + 1))
            checks.append(
                Check(
                    name: "all_failures_collected", expected: "every failure raised: \(raised.sorted())",
                    observed: .array(collected.map(\.task).sorted().map(JSONValue.int)),
                    passed: collected.map(\.task).sorted() == raised.sorted()))
            let stillRunning = count - raised.count - (tally.completed - tally.completedAfterCancel)
            checks.append(
                Check(
                    name: "siblings_cancelled_on_failure",
                    expected: "== \(stillRunning) cancelled (the siblings still running), 0 completed after the cancel",
                    observed: .int(tally.cancelled),
                    passed: tally.cancelled == stillRunning && tally.completedAfterCancel == 0))
        } else {
            checks.append(.equal("all_children_completed", observed: tally.completed, expected: count))
        }
        checks.append(
            Check(
                name: "group_ends_after_all_children",
                expected: ">= \(JSONValue.milliseconds(tally.lastChildEndMs).serialized()) ms (the last child's end), all \(count) ended",
                observed: .milliseconds(groupEndMs), passed: groupEndMs >= tally.lastChildEndMs && tally.ended == count))
        return PatternOutcome(result: figures(tally, collected: collected, count: count, groupEndMs: groupEndMs), checks: checks)
    }

    private func figures(_ tally: GroupTally, collected: [InjectedFailure], count: Int, groupEndMs: Double) -> [String: JSONValue] {
        [
            "count": .int(count), "completed": .int(tally.completed), "cancelled": .int(tally.cancelled),
            "completed_after_cancel": .int(tally.completedAfterCancel),
            "group_end_ms": .milliseconds(groupEndMs), "last_child_end_ms": .milliseconds(tally.lastChildEndMs),
            "error": collected.first.map { .string($0.description) } ?? .null,
            "errors": .array(collected.prefix(100).map { .string($0.description) }),
            "failures_raised": .int(tally.failures.count), "errors_collected": .int(collected.count),
            "failure_at_ms": tally.failures.map(\.ms).min().map(JSONValue.milliseconds) ?? .null,
        ]
    }
}

/// The broken ways of running children that the fault variants use (tests only): each
/// breaks one of the group's guarantees.
extension TaskGroupPattern {
    /// Children as unstructured tasks that nobody awaits: the "group" returns at once.
    func startUnawaited(_ count: Int, _ start: @escaping @Sendable (Int) async throws -> Void, _ context: RunContext)
        -> [InjectedFailure]
    {
        for index in 0..<count {
            Task(executorPreference: context.taskExecutor) { try? await start(index) }
        }
        return []
    }

    /// Children awaited one by one in input order: a failure is noticed only when its turn
    /// comes, then the rest are cancelled.
    func awaitInInputOrder(
        _ count: Int, _ start: @escaping @Sendable (Int) async throws -> Void, _ tally: Locked<GroupTally>,
        _ context: RunContext
    ) async throws -> [InjectedFailure] {
        let tasks = (0..<count).map { index in Task(executorPreference: context.taskExecutor) { try await start(index) } }
        var first: InjectedFailure?
        for task in tasks {
            do {
                try await task.value
            } catch let failure as InjectedFailure where first == nil {
                first = failure
                tally.withLock { $0.cancelRequested = true }
                for other in tasks { other.cancel() }
            } catch {}
        }
        return first.map { [$0] } ?? []
    }
}
