import Synchronization
/// gather: run `count` tasks concurrently and collect their results in input order.
///
/// - Parameters: `count` (1...maxGatherCount), `delay_ms` (0...maxDelayMs), `jitter_ms`
///   (0...maxDelayMs, each task's extra delay, drawn from `seed`), `seed`.
/// - Events: `task.started` and `task.finished` per task, `gather.result` as a task's
///   result lands in its slot (with `results`, the slots filled so far) (all capped),
///   `progress`.
/// - Counters: `results`, ending at the `results` figure.
/// - Cancellation: cancelling the run cancels every child; the run ends `cancelled`.
/// - Checks: every result lands at its input index (`results_in_input_order`); the wall
///   time is at least the longest delay (`wall_at_least_longest_task`) and, with more than
///   one task to wait for, more than one task was observed in flight at once
///   (`concurrent_not_sequential`). Wall time, peak in flight and efficiency are figures.
///
/// Discarding task groups (sleeping tasks in groups of at most 512, `ChunkedTaskGroup`)
/// free each child as it ends and results go into a preallocated buffer by index, so a million
/// zero-delay tasks never hold a million results. Tasks with no delay and no jitter never
/// suspend: starting them all before any ran would only hold up to a million idle tasks in
/// memory (1.5 GB), so those are started through a window of `zeroDelayWindow` unfinished
/// tasks. What a finished run shows is the same: no such task
/// waits on anything, so none would have overlapped another any longer. A cancelled one
/// stops creating tasks when it is cancelled, so its timeline counts the tasks that existed
/// then, not `count` cancelled ones.
public struct GatherPattern: Pattern {
    public init() {}

    /// Unfinished tasks a zero-delay gather keeps at most (see above).
    static let zeroDelayWindow = 4_096

    public let name = "gather"
    public let title = "Gather: run many, collect in order"
    public let summary = "Starts every task at once and waits for all of them; results come back in input order however the tasks finish, and the whole takes as long as the slowest task, not the sum."
    public let asyncioEquivalent = "asyncio.gather(*coros)"
    public let swiftEquivalent = "withThrowingDiscardingTaskGroup, results stored by index"
    public let swiftNote = "A Swift task group yields results in completion order; gather's input order is restored by index."
    public let invariants = [
        "results are in input order",
        "wall time >= the longest task's delay",
        "more than one task in flight at once (the tasks overlapped)",
    ]
    public let eventNames = ["gather.result"]
    public let counters = [CounterSpec("results", "results collected")]

    public func parameters(limits: PatternLimits) -> [ParameterSpec] {
        [
            .integer("count", default: 10, min: 1, max: limits.maxGatherCount, "How many tasks to run concurrently."),
            .integer("delay_ms", default: 100, min: 0, max: limits.maxDelayMs, "How long each task sleeps."),
            .integer("jitter_ms", default: 0, min: 0, max: limits.maxDelayMs, "Up to this much extra delay per task, drawn from the seed."),
            .integer("seed", default: 42, min: 0, max: Int(Int32.max), "Seed for the jitter."),
        ]
    }

    public func plannedDuration(_ parameters: ParameterSet) -> Duration {
        .milliseconds(parameters.int("delay_ms") + parameters.int("jitter_ms"))
    }

    public func run(_ parameters: ParameterSet, context: RunContext) async throws -> PatternOutcome {
        let count = parameters.int("count")
        let delays = TaskDelays(
            delay: parameters.int("delay_ms"), jitter: parameters.int("jitter_ms"), seed: parameters.int("seed"))
        context.recorder.setTotal(count)
        let results = Locked(Slots(count: count))
        let inFlight = PeakCounter()
        let window = delays.neverSleeps && count > Self.zeroDelayWindow ? AsyncSemaphore(permits: Self.zeroDelayWindow) : nil
        let alive = PeakCounter()
        let start = context.elapsedMs()
        // Sleeping children finish in any order, which a single group of 100,000 pays for on
        // every finish (see ChunkedTaskGroup); the window already keeps a zero-delay group
        // small, and one flat group is then the cheaper.
        let chunkSize = window == nil ? ChunkedTaskGroup.defaultChunkSize : count
        try await ChunkedTaskGroup.run(count: count, chunkSize: chunkSize) { _ in
            try await window?.acquire()
            alive.enter()
        } _: { index in
            defer {
                alive.leave()
                window?.release()
            }
            let value = try await context.task(index) {
                inFlight.enter()
                defer { inFlight.leave() }
                try await context.sleep(ms: delays[index])
                return index
            }
            results.withLock { $0.fill(index, with: value, context) }
        }
        let wall = context.elapsedMs() - start
        let (inOrder, filled) = results.withLock { slots in
            (slots.values.indices.count { slots.values[$0] == $0 }, slots.filled)
        }
        return outcome(
            count: count, delays: delays, wall: wall, inOrder: inOrder, filled: filled, peak: inFlight.peak,
            peakAlive: alive.peak)
    }

    private func outcome(
        count: Int, delays: TaskDelays, wall: Double, inOrder: Int, filled: Int, peak: Int, peakAlive: Int
    ) -> PatternOutcome {
        let longest = (0..<count).lazy.map { delays[$0] }.max() ?? 0
        let sum = (0..<count).lazy.map { delays[$0] }.reduce(0, +)
        var checks: [Check] = [
            .equal("results_in_input_order", observed: inOrder, expected: count),
            Check(
                name: "wall_at_least_longest_task", expected: ">= \(longest) ms", observed: .milliseconds(wall),
                passed: wall >= Double(longest)),
        ]
        // Overlap is shown by tasks observed sleeping at the same time, not by a wall-time
        // comparison that a loaded machine could flip; the wall time is a figure.
        if count > 1 && sum > longest {
            checks.append(
                Check(
                    name: "concurrent_not_sequential", expected: "> 1 task in flight at once", observed: .int(peak),
                    passed: peak > 1))
        }
        return PatternOutcome(
            result: [
                "count": .int(count), "wall_ms": .milliseconds(wall), "longest_delay_ms": .int(longest),
                "sum_delay_ms": .int(sum), "peak_in_flight": .int(peak), "peak_tasks_alive": .int(peakAlive),
                "efficiency": .double(wall > 0 ? (Double(longest) / wall * 1000).rounded() / 1000 : 1),
                "results_in_order": .int(inOrder), "results": .int(filled),
            ],
            checks: checks)
    }
}

/// Each task's delay: the base delay plus its own jitter, drawn from the seed.
private struct TaskDelays: Sendable {
    let delay: Int
    let jitter: Int
    let seed: Int

    subscript(index: Int) -> Int {
        delay + SeededRandom.jitter(seed: seed, index: index, maxJitter: jitter)
    }

    /// Every task's delay is zero.
    var neverSleeps: Bool { delay == 0 && jitter == 0 }
}

/// How many are inside at once and the most there ever were: child tasks alive (created, not
/// yet finished: what a run holds in memory) and tasks sleeping (in flight). Entered and left
/// from several threads at once (`ChunkedTaskGroup`), without a lock: the peak only ever grows.
private final class PeakCounter: Sendable {
    private let current = Atomic<Int>(0)
    private let highest = Atomic<Int>(0)

    func enter() {
        let now = current.add(1, ordering: .relaxed).newValue
        var seen = highest.load(ordering: .relaxed)
        while now > seen {
            let (exchanged, original) = highest.compareExchange(expected: seen, desired: now, ordering: .relaxed)
            if exchanged { return }
            seen = original
        }
    }

    func leave() { current.subtract(1, ordering: .relaxed) }

    var peak: Int { highest.load(ordering: .relaxed) }
}

/// The results by input index (-1: none yet), and how many slots are filled. A fill is
/// announced under the lock that makes it, so the `results` counter only ever grows in the log.
private struct Slots: Sendable {
    var values: [Int]
    var filled = 0

    init(count: Int) {
        values = [Int](repeating: -1, count: count)
    }

    mutating func fill(_ index: Int, with value: Int, _ context: RunContext) {
        values[index] = value
        filled += 1
        context.emit("gather.result", integers: ["results": filled, "task": index])
    }
}
