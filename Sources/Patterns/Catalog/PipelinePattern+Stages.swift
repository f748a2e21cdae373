import LabJSON
import Synchronization

/// A pipeline run's parameters, read once.
struct PipelinePlan: Sendable {
    let items, fanStage, workersK, buffer, jitterMs, seed: Int
    let stageMs: [Int]
    let ordered: Bool
    var stages: Int { stageMs.count }

    init(_ parameters: ParameterSet) {
        items = parameters.int("items")
        stageMs = parameters.intList("stage_ms") ?? [0]
        fanStage = parameters.int("fan_out_stage")
        workersK = parameters.int("workers")
        buffer = parameters.int("buffer")
        ordered = parameters.bool("ordered")
        jitterMs = parameters.int("jitter_ms")
        seed = parameters.int("seed")
    }

    func workers(at stage: Int) -> Int { stage == fanStage ? workersK : 1 }

    /// An item's time in a stage; the fanned stage adds the item's seeded jitter.
    func time(_ item: Int, _ stage: Int) -> Int {
        stageMs[stage] + (stage == fanStage ? SeededRandom.jitter(seed: seed, index: item, maxJitter: jitterMs) : 0)
    }
}

/// One stage's buffers.
struct StageRun: Sendable {
    let stage: Int
    let input: AsyncQueue<Int>
    let output: AsyncQueue<Int>
}

/// A stage's shared state: whose turn it is to hand an item on (ordered fan-in) and how
/// many workers are done (the last one shuts the output).
final class Turnstile: Sendable {
    private let condition = AsyncCondition()
    private let state = Mutex((next: 0, finished: 0))
    let workers: Int

    init(workers: Int) { self.workers = workers }

    /// Waits until every item before `item` has been handed on.
    func waitForTurn(_ item: Int) async throws {
        try await condition.acquire()
        defer { condition.release() }
        try await condition.waitFor { state.withLock { $0.next } == item }
    }

    func passTurn() async throws {
        try await condition.acquire()
        state.withLock { $0.next += 1 }
        condition.notifyAll()
        condition.release()
    }

    /// True for the stage's last worker to finish.
    func workerFinished() -> Bool {
        state.withLock { state in
            state.finished += 1
            return state.finished == workers
        }
    }
}

/// What a pipeline run observed, under one lock.
struct PipelineTally: Sendable {
    /// How many times each (item, stage) was processed, and each item reached the sink.
    var ledger: [UInt8]
    var sink: [UInt8]
    var buffered = 0
    var busy: [Int]
    var peakBusy: [Int]
    var delivered = 0
    var outOfPlace = 0
    var order: [Int] = []
    let stages: Int

    init(_ plan: PipelinePlan) {
        stages = plan.stages
        ledger = [UInt8](repeating: 0, count: plan.items * plan.stages)
        sink = [UInt8](repeating: 0, count: plan.items)
        busy = [Int](repeating: 0, count: plan.stages)
        peakBusy = busy
    }

    mutating func took(at stage: Int) {
        buffered -= 1
        busy[stage] += 1
        peakBusy[stage] = max(peakBusy[stage], busy[stage])
    }

    mutating func processed(_ item: Int, at stage: Int) {
        let slot = item * stages + stage
        if ledger[slot] < .max { ledger[slot] += 1 }
    }

    mutating func delivered(_ item: Int) -> Int {
        buffered -= 1
        if sink[item] < .max { sink[item] += 1 }
        if item != delivered { outOfPlace += 1 }
        delivered += 1
        if order.count < 100 { order.append(item) }
        return delivered
    }
}

extension PipelinePattern {
    /// The source: puts items 0, 1, 2, ... into the first buffer as fast as it takes them.
    func produce(_ plan: PipelinePlan, into buffer: AsyncQueue<Int>, _ tally: Locked<PipelineTally>, _ context: RunContext)
        async throws
    {
        for item in 0..<plan.items {
            let size = try await buffer.put(item)
            let buffered = tally.withLock { tally -> Int in
                tally.buffered += 1
                return tally.buffered
            }
            context.emit("pipeline.produced", ["item": .int(item), "size": .int(size), "buffered": .int(buffered)])
        }
        buffer.shutdown()
    }

    /// One worker of a stage: `for try await item in input`, process, hand on.
    func work(
        _ run: StageRun, worker: Int, _ plan: PipelinePlan, _ turns: Turnstile, _ tally: Locked<PipelineTally>,
        _ context: RunContext
    ) async throws {
        let fanned = run.stage == plan.fanStage
        let inTurn = fanned && plan.ordered && fault != .unorderedFanIn
        for try await item in run.input.elements {
            let (buffered, busy) = tally.withLock { tally -> (Int, Int) in
                tally.took(at: run.stage)
                return (tally.buffered, tally.busy[plan.fanStage])
            }
            context.emit(
                "pipeline.take",
                [
                    "item": .int(item), "stage": .int(run.stage), "worker": .int(worker), "size": .int(run.input.count),
                    "buffered": .int(buffered), "busy_workers": .int(busy),
                ])
            let passes = fault == .processesFirstItemTwice && fanned && item == 0 ? 2 : 1
            for _ in 0..<passes {
                try await context.task(item * plan.stages + run.stage, label: label(item, run.stage, worker, fanned), countsAsProgress: false) {
                    try await context.sleep(ms: plan.time(item, run.stage))
                }
                tally.withLock { $0.processed(item, at: run.stage) }
            }
            tally.withLock { $0.busy[run.stage] -= 1 }
            if inTurn { try await turns.waitForTurn(item) }
            try await handOn(item, run, plan, tally, context)
            if inTurn { try await turns.passTurn() }
        }
        if turns.workerFinished() { run.output.shutdown() }
    }

    private func label(_ item: Int, _ stage: Int, _ worker: Int, _ fanned: Bool) -> String {
        fanned ? "item-\(item) stage-\(stage) w\(worker)" : "item-\(item) stage-\(stage)"
    }

    private func handOn(_ item: Int, _ run: StageRun, _ plan: PipelinePlan, _ tally: Locked<PipelineTally>, _ context: RunContext)
        async throws
    {
        let size = try await run.output.put(item)
        let (buffered, busy) = tally.withLock { tally -> (Int, Int) in
            tally.buffered += 1
            return (tally.buffered, tally.busy[plan.fanStage])
        }
        context.emit(
            "pipeline.put",
            ["item": .int(item), "stage": .int(run.stage), "size": .int(size), "buffered": .int(buffered), "busy_workers": .int(busy)])
    }

    /// The sink: `async for item in last_stage`, counting what arrives and in which order.
    func sink(_ plan: PipelinePlan, from buffer: AsyncQueue<Int>, _ tally: Locked<PipelineTally>, _ context: RunContext)
        async throws
    {
        for try await item in buffer.elements {
            let (delivered, buffered) = tally.withLock { tally -> (Int, Int) in (tally.delivered(item), tally.buffered) }
            context.emit(
                "pipeline.delivered",
                ["item": .int(item), "position": .int(delivered - 1), "delivered": .int(delivered), "buffered": .int(buffered)])
            context.recorder.advanceProgress()
        }
    }

    func outcome(_ plan: PipelinePlan, buffers: [AsyncQueue<Int>], _ tally: PipelineTally) -> PatternOutcome {
        let passedOnce = tally.ledger.count { $0 == 1 }
        let deliveredOnce = tally.sink.count { $0 == 1 }
        let peaks = buffers.map(\.peakCount)
        let otherStagesAtMostOne = tally.peakBusy.indices.allSatisfy { $0 == plan.fanStage || tally.peakBusy[$0] <= 1 }
        var checks: [Check] = [
            Check(
                name: "every_item_through_every_stage_once",
                expected: "\(plan.items * plan.stages) (item, stage) passes once each, \(plan.items) items delivered once each",
                observed: .string("\(passedOnce) passes once, \(deliveredOnce) delivered once"),
                passed: passedOnce == tally.ledger.count && deliveredOnce == plan.items),
        ]
        if plan.ordered {
            checks.append(.equal("order_preserved", observed: tally.outOfPlace, expected: 0))
        }
        checks.append(.atMost("buffers_within_bound", observed: peaks.max() ?? 0, limit: plan.buffer))
        checks.append(
            Check(
                name: "stage_concurrency_within_k",
                expected: "<= \(plan.workersK) in stage \(plan.fanStage), <= 1 in the others",
                observed: .array(tally.peakBusy.map(JSONValue.int)),
                passed: tally.peakBusy[plan.fanStage] <= plan.workersK && otherStagesAtMostOne))
        return PatternOutcome(
            result: [
                "items": .int(plan.items), "stages": .int(plan.stages), "workers": .int(plan.workersK),
                "delivered": .int(tally.delivered), "out_of_place": .int(tally.outOfPlace),
                "delivered_order": .array(tally.order.map(JSONValue.int)),
                "peak_buffer_sizes": .array(peaks.map(JSONValue.int)),
                "peak_busy_per_stage": .array(tally.peakBusy.map(JSONValue.int)),
            ],
            checks: checks)
    }
}
