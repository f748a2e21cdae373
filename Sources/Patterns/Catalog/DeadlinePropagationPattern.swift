import LabJSON

/// deadline-propagation: a call tree under a root deadline, with each hop passing the
/// remaining budget to its children (gRPC deadlines), or not.
///
/// - Parameters: `depth` (0...8) and `fan_out` (1...8) shape the tree (at most maxCount
///   nodes); every node works `work_ms`, then calls its children at once and waits for
///   them; the caller gives up at `root_deadline_ms`. `propagation`: `on` (every node knows
///   the deadline: it starts no work past it and stops its work at it), `off` (the tree
///   never hears of it and runs to its end after the caller gave up) or `both`, side by side.
/// - Events, per node (capped): `task.started`; `node.working` (with `working_on` or
///   `working_off`, the arm's nodes at work); then `node.finished`, `node.cut` (stopped at the
///   deadline) or `node.refused` (no budget left to start); `task.finished`. Milestone
///   `caller.gave_up` per arm.
/// - Cancellation: every node stops; the run ends `cancelled`.
/// - Checks, from each node's observed work interval: with propagation, no node started
///   work after the deadline and none worked past it (the instant each asked the clock to end
///   its work at, exactly; how late timers woke them is a figure), and when the tree outlasts
///   the deadline the cut subtrees are counted; without
///   it, the work done after the caller gave up is measured and shown as wasted time.
public struct DeadlinePropagationPattern: Pattern {
    public init() {
        ignoresDeadline = false
    }

    /// A tree whose nodes ignore the deadline they are given: tests break it on purpose.
    init(ignoresDeadline: Bool) {
        self.ignoresDeadline = ignoresDeadline
    }

    let ignoresDeadline: Bool

    public let name = "deadline-propagation"
    public let title = "Deadline propagation: the budget travels with the call"
    public let summary = "A request fans out into a tree of calls under one deadline. When each hop passes on what is left of it, the whole tree stops when the caller gives up; when it does not, the tree keeps working for nobody."
    public let asyncioEquivalent = "asyncio.timeout(deadline) around the root, with loop.time()-based deadlines passed to each call (gRPC deadlines)"
    public let swiftEquivalent = "an absolute deadline on the run's clock passed down the tree; each node sleeps until min(its end, the deadline); a task group per fan-out"
    public let swiftNote = "Structured concurrency already cancels a subtree when its parent is cancelled; the deadline makes each hop know when that will be, so it never starts work it cannot finish."
    public let invariants = [
        "with propagation: no work continues past the root deadline",
        "with propagation: cancelled subtrees counted",
        "without: the work done after the caller gave up is measured as wasted",
    ]
    public let eventNames = ["node.working", "node.finished", "node.cut", "node.refused", "caller.gave_up"]
    public let counters = [
        CounterSpec("working_on", "nodes working (propagation on)"),
        CounterSpec("working_off", "nodes working (propagation off)"),
    ]

    public func parameters(limits: PatternLimits) -> [ParameterSpec] {
        [
            .integer("depth", default: 3, min: 0, max: 8, "Levels below the root."),
            .integer("fan_out", default: 3, min: 1, max: 8, "Children per node."),
            .integer("work_ms", default: 40, min: 1, max: limits.maxDelayMs, "Work at each hop before calling its children."),
            .integer("root_deadline_ms", default: 100, min: 1, max: limits.maxDelayMs, "When the caller gives up."),
            .choice("propagation", default: "both", choices: ["on", "off", "both"], "Whether each hop passes the remaining budget on."),
        ]
    }

    public func crossCheck(_ parameters: ParameterSet) -> [FieldIssue] {
        let nodes = CallTree(depth: parameters.int("depth"), fanOut: parameters.int("fan_out")).nodes
        guard nodes > 100_000 else { return [] }
        return [FieldIssue(field: "fan_out", message: "the tree would have \(nodes) nodes; at most 100000")]
    }

    public func plannedDuration(_ parameters: ParameterSet) -> Duration {
        let tree = (parameters.int("depth") + 1) * parameters.int("work_ms")
        return .milliseconds(max(tree, parameters.int("root_deadline_ms")))
    }

    public func run(_ parameters: ParameterSet, context: RunContext) async throws -> PatternOutcome {
        let tree = CallTree(depth: parameters.int("depth"), fanOut: parameters.int("fan_out"))
        let workMs = parameters.int("work_ms")
        let deadlineMs = parameters.int("root_deadline_ms")
        let mode = parameters.string("propagation")
        let arms = (mode == "both" ? [true, false] : [mode == "on"]).enumerated().map { index, propagates in
            DeadlineArm(
                propagates: propagates, ignoresDeadline: ignoresDeadline, index: index, tree: tree, workMs: workMs,
                deadlineMs: deadlineMs)
        }
        context.recorder.setTotal(tree.nodes * arms.count)
        let reports = try await withThrowingTaskGroup(of: DeadlineArm.Report.self) { group in
            for arm in arms { group.addTask { try await arm.run(context) } }
            var reports: [DeadlineArm.Report] = []
            for try await report in group { reports.append(report) }
            return reports.sorted { $0.propagates && !$1.propagates }
        }
        return outcome(reports, tree: tree, workMs: workMs, deadlineMs: deadlineMs)
    }

    func outcome(_ reports: [DeadlineArm.Report], tree: CallTree, workMs: Int, deadlineMs: Int) -> PatternOutcome {
        let outlasts = (tree.depth + 1) * workMs > deadlineMs
        var checks: [Check] = []
        var result: [String: JSONValue] = [
            "nodes": .int(tree.nodes), "tree_ms": .int((tree.depth + 1) * workMs), "root_deadline_ms": .int(deadlineMs),
        ]
        for report in reports {
            result[report.propagates ? "on" : "off"] = report.json
            if report.propagates {
                checks.append(.equal("on_no_work_started_after_deadline", observed: report.startedAfterDeadline, expected: 0))
                checks.append(
                    Check(
                        name: "on_no_work_past_deadline", expected: "0 nodes whose work ran past the deadline",
                        observed: .int(report.workingPastDeadline), passed: report.workingPastDeadline == 0))
                if outlasts { checks.append(.atLeast("on_subtrees_cut_counted", observed: report.cut + report.refused, minimum: 1)) }
            } else if outlasts {
                checks.append(.atLeastMs("off_wasted_work_measured", observedMs: report.wastedMs, minimumMs: 0.1, "work after the caller gave up"))
            }
        }
        return PatternOutcome(result: result, checks: checks)
    }
}

/// A complete tree of `fanOut` children per node, `depth` levels below the root, its
/// nodes numbered breadth first (node i's children are i * fanOut + 1 ... i * fanOut + fanOut).
struct CallTree: Sendable {
    let depth: Int
    let fanOut: Int

    var nodes: Int { (0...depth).reduce(0) { total, level in total + power(level) } }

    private func power(_ level: Int) -> Int { (0..<level).reduce(1) { value, _ in value * fanOut } }

    func children(of node: Int) -> Range<Int> {
        let first = node * fanOut + 1
        return min(first, nodes)..<min(first + fanOut, nodes)
    }

    func depth(of node: Int) -> Int {
        var level = 0
        var last = 0
        while node > last {
            level += 1
            last += power(level)
        }
        return level
    }
}
