/// pipeline: items flow from a source through stages joined by bounded buffers; one stage is
/// fanned out to K workers and fanned back in, in order or not.
///
/// - Parameters: `items` (1...maxCount) from the source; `stage_ms` (1 to 10 stages, each
///   0...maxDelayMs), each stage's time per item; `fan_out_stage` (an index of stage_ms) runs
///   on `workers` (1...100) workers, each item taking up to `jitter_ms` more there (drawn from
///   `seed`), so they finish out of order; `buffer` (1...maxCount), the bound of every buffer
///   (before the first stage, between stages, before the sink); `ordered`: the fanned stage
///   hands items on in input order (a worker done early waits for its turn) or as they finish.
/// - Events: `task.started` / `task.finished` per item and stage (task item * stages +
///   stage, capped); `pipeline.produced` per item the source puts; `pipeline.take` and
///   `pipeline.put` as a stage takes an item from its input buffer and puts it into its
///   output (`buffered`, `busy_workers`); `pipeline.delivered` per item the sink receives
///   (position, `delivered`); `progress` counts delivered items.
/// - Cancellation: every stage stops at its next get, put or sleep; the run ends `cancelled`.
/// - Checks: every item went through every stage exactly once and reached the sink once;
///   with `ordered`, the sink received them in input order; no buffer ever held more than
///   its bound; the fanned stage never had more than K items in hand at once, every other
///   stage more than one.
public struct PipelinePattern: Pattern {
    /// Ways to break one guarantee each, so tests can show that its check fails.
    enum Fault: Sendable {
        /// A fanned worker processes item 0 twice.
        case processesFirstItemTwice
        /// The fanned stage hands items on as they finish although order was asked.
        case unorderedFanIn
        /// The buffers are built without their bound.
        case unboundedBuffers
        /// The fanned stage runs one worker more than asked.
        case oneWorkerTooMany
    }

    let fault: Fault?

    public init() { fault = nil }
    init(fault: Fault?) { self.fault = fault }

    public let name = "pipeline"
    public let title = "Pipeline: stages, bounded buffers, a stage fanned out"
    public let summary = "A source feeds items through a chain of stages joined by bounded buffers, so a slow stage holds the ones before it back; the slowest stage is fanned out to several workers and fanned back in, keeping the items' order or not."
    public let asyncioEquivalent = "async generators chained with async for, asyncio.Queue(maxsize) between stages, K worker tasks on one stage"
    public let swiftEquivalent = "a task group of stage tasks, each `for try await item in input.elements`, AsyncQueue buffers between them"
    public let swiftNote = "AsyncStream's buffering policies drop items instead of suspending the producer, so bounded buffers that apply back-pressure are AsyncQueues. An async generator pipeline in Python pulls lazily (each stage awaits the previous on demand); with queues between tasks, as here, every stage runs on its own and the buffers bound how far ahead it gets. Ordered fan-in: a worker done early waits for its turn (an AsyncCondition), so at most K items are in hand."
    public let invariants = [
        "every item passes every stage exactly once and reaches the sink once",
        "order preserved when asked",
        "no buffer above its bound",
        "the fanned stage's concurrency <= K (every other stage's <= 1)",
    ]
    public let eventNames = ["pipeline.produced", "pipeline.take", "pipeline.put", "pipeline.delivered"]
    public let counters = [
        CounterSpec("buffered", "items in the buffers"),
        CounterSpec("busy_workers", "the fanned stage's workers at work"),
        CounterSpec("delivered", "items delivered to the sink"),
    ]

    public func parameters(limits: PatternLimits) -> [ParameterSpec] {
        [
            .integer("items", default: 12, min: 1, max: limits.maxCount, "How many items the source makes."),
            .integerList("stage_ms", default: [10, 60, 10], min: 0, max: limits.maxDelayMs, maxItems: 10, "Each stage's time per item."),
            .integer("fan_out_stage", default: 1, min: 0, max: 9, "The stage run by several workers (an index of stage_ms)."),
            .integer("workers", default: 3, min: 1, max: min(100, limits.maxCount), "How many workers the fanned stage has (K)."),
            .integer("buffer", default: 2, min: 1, max: limits.maxCount, "The bound of every buffer."),
            .boolean("ordered", default: true, "Hand items on from the fanned stage in input order."),
            .integer("jitter_ms", default: 40, min: 0, max: limits.maxDelayMs, "Up to this much extra time per item in the fanned stage, drawn from the seed."),
            .integer("seed", default: 42, min: 0, max: Int(Int32.max), "Seed for the jitter."),
        ]
    }

    public func crossCheck(_ parameters: ParameterSet) -> [FieldIssue] {
        let stages = parameters.intList("stage_ms")?.count ?? 0
        guard parameters.int("fan_out_stage") < stages else {
            return [FieldIssue(field: "fan_out_stage", message: "must be an index of stage_ms (less than \(stages))")]
        }
        return []
    }

    public func plannedDuration(_ parameters: ParameterSet) -> Duration {
        let plan = PipelinePlan(parameters)
        let perItem = (0..<plan.stages).map { plan.stageMs[$0] + ($0 == plan.fanStage ? plan.jitterMs : 0) }
        let rounds = (0..<plan.stages).map { plan.items.dividedRoundingUp(by: plan.workers(at: $0)) * perItem[$0] }
        return .milliseconds((rounds.max() ?? 0) + perItem.reduce(0, +))
    }

    public func run(_ parameters: ParameterSet, context: RunContext) async throws -> PatternOutcome {
        let plan = PipelinePlan(parameters)
        context.recorder.setTotal(plan.items)
        let bound = fault == .unboundedBuffers ? 0 : plan.buffer
        let buffers = (0...plan.stages).map { _ in AsyncQueue<Int>(maxsize: bound) }
        let tally = Locked(PipelineTally(plan))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await produce(plan, into: buffers[0], tally, context) }
            for stage in 0..<plan.stages {
                let stageRun = StageRun(stage: stage, input: buffers[stage], output: buffers[stage + 1])
                let workers = plan.workers(at: stage) + (fault == .oneWorkerTooMany && stage == plan.fanStage ? 1 : 0)
                let turns = Turnstile(workers: workers)
                for worker in 0..<workers {
                    group.addTask { try await work(stageRun, worker: worker, plan, turns, tally, context) }
                }
            }
            group.addTask { try await sink(plan, from: buffers[plan.stages], tally, context) }
            try await group.waitForAll()
        }
        return outcome(plan, buffers: buffers, tally.value)
    }
}
