import LabJSON

/// One side of a `deadline-propagation` run: the call tree with the deadline passed down
/// every hop, or with the caller alone knowing it.
struct DeadlineArm: Sendable {
    /// One node's work as observed: when it started and stopped, and how it ended.
    struct Work: Sendable {
        enum End: Sendable { case finished, cut, refused }
        let startMs: Double
        let endMs: Double
        let end: End
        /// The instant it asked the clock to end its work at (a late timer wakes it after).
        let stopAtMs: Double
    }

    struct Report: Sendable {
        let propagates: Bool
        let work: [Work]
        /// When the caller gave up; nil when the tree answered in time.
        let gaveUpAtMs: Double?
        let deadlineMs: Double

        var arm: String { propagates ? "on" : "off" }
        var cut: Int { work.count { $0.end == .cut } }
        var refused: Int { work.count { $0.end == .refused } }
        var finished: Int { work.count { $0.end == .finished } }
        /// Nodes below a cut one, never called: the rest of each cancelled subtree.
        let notCalled: Int
        var startedAfterDeadline: Int { work.count { $0.end != .refused && $0.startMs > deadlineMs } }

        /// Nodes whose work ran to an instant past the deadline: what each asked the clock
        /// to end its work at, exactly (how late its timer then woke it is the machine's,
        /// not work: `latest_wakeup_past_deadline_ms` shows it).
        var workingPastDeadline: Int { work.count { $0.end != .refused && $0.stopAtMs > deadlineMs } }

        /// How long after the deadline the last node's timer woke it.
        var latestWakeupPastDeadlineMs: Double {
            work.filter { $0.end != .refused }.map { max(0, $0.endMs - deadlineMs) }.max() ?? 0
        }

        /// Work done after the caller gave up, summed over the nodes.
        var wastedMs: Double {
            guard let gaveUpAtMs else { return 0 }
            return work.reduce(0) { total, node in
                node.end == .refused ? total : total + max(0, node.endMs - max(node.startMs, gaveUpAtMs))
            }
        }

        var json: JSONValue {
            [
                "finished": .int(finished), "cut": .int(cut), "refused": .int(refused), "not_called": .int(notCalled),
                "gave_up_at_ms": gaveUpAtMs.map(JSONValue.milliseconds) ?? .null, "wasted_ms": .milliseconds(wastedMs),
                "last_work_end_ms": .milliseconds(work.filter { $0.end != .refused }.map(\.endMs).max() ?? 0),
                "latest_wakeup_past_deadline_ms": .milliseconds(latestWakeupPastDeadlineMs),
            ]
        }
    }

    let propagates: Bool
    let ignoresDeadline: Bool
    let index: Int
    let tree: CallTree
    let workMs: Int
    let deadlineMs: Int

    private var arm: String { propagates ? "on" : "off" }
    private var workingKey: String { "working_\(arm)" }

    /// The caller waits for the tree until the deadline; the tree itself is always awaited,
    /// so work that goes on after the caller gave up is observed, never leaked.
    func run(_ context: RunContext) async throws -> Report {
        let startMs = context.elapsedMs()
        let deadline = startMs + Double(deadlineMs)
        let ledger = Locked([Work]())
        let working = Locked(0)
        let treeDone = AsyncEvent()
        let gaveUpAt = Locked<Double?>(nil)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await node(0, deadline: propagates ? deadline : nil, from: startMs, ledger, working, context)
                treeDone.set()
            }
            do {
                try await context.clock.withDeadline(.microseconds(Int(deadline * 1000))) { try await treeDone.wait() }
            } catch is PatternTimeoutError {
                let now = context.elapsedMs()
                gaveUpAt.withLock { $0 = now }
                context.recorder.milestone("caller.gave_up", ["arm": .string(arm), "node_work_so_far": .int(ledger.value.count)])
            }
            try await group.waitForAll()
        }
        let work = ledger.value
        return Report(
            propagates: propagates, work: work, gaveUpAtMs: gaveUpAt.value.map { $0 - startMs }, deadlineMs: Double(deadlineMs),
            notCalled: tree.nodes - work.count)
    }

    /// One hop: its work, then its children at once. With a deadline it starts nothing past
    /// it and stops its work at it.
    private func node(
        _ id: Int, deadline: Double?, from armStart: Double, _ ledger: Locked<[Work]>, _ working: Locked<Int>, _ context: RunContext
    ) async throws {
        let task = JSONValue.int(index * tree.nodes + id)
        try await context.task(index * tree.nodes + id, label: "\(arm)-d\(tree.depth(of: id))-\(id)") {
            let start = context.elapsedMs()
            let limit = ignoresDeadline ? nil : deadline
            if let limit, start >= limit {
                ledger.withLock { $0.append(Work(startMs: start - armStart, endMs: start - armStart, end: .refused, stopAtMs: start - armStart)) }
                context.emit("node.refused", ["task": task, "arm": .string(arm), "node": .int(id)])
                return
            }
            let count = working.withLock { count -> Int in
                count += 1
                return count
            }
            context.emit("node.working", ["task": task, "arm": .string(arm), "node": .int(id), workingKey: .int(count)])
            let planned = start + Double(workMs)
            let stop = min(planned, limit ?? planned)
            let cut = stop < planned
            try await context.clock.sleep(until: .microseconds(Int((stop * 1000).rounded())))
            let end = context.elapsedMs()
            let left = working.withLock { count -> Int in
                count -= 1
                return count
            }
            ledger.withLock { $0.append(Work(startMs: start - armStart, endMs: end - armStart, end: cut ? .cut : .finished, stopAtMs: stop - armStart)) }
            context.emit(cut ? "node.cut" : "node.finished", ["task": task, "arm": .string(arm), "node": .int(id), workingKey: .int(left)])
            if cut { return }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for child in tree.children(of: id) {
                    group.addTask { try await node(child, deadline: deadline, from: armStart, ledger, working, context) }
                }
                try await group.waitForAll()
            }
        }
    }
}
