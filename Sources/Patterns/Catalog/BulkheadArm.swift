import LabJSON

/// A permit pool of a `bulkhead` run, counting its permits in use under `counter`, and how
/// many of them slow calls hold.
final class BulkheadPool: Sendable {
    let counter: String
    let semaphore: AsyncSemaphore
    private let inUse = Locked((all: 0, slow: 0))

    init(counter: String, permits: Int) {
        self.counter = counter
        semaphore = AsyncSemaphore(permits: permits)
    }

    /// Permits slow calls hold right now.
    var slowHolders: Int { inUse.value.slow }

    /// Counts a permit taken; the permits now in use.
    func taken(slow: Bool) -> Int {
        inUse.withLock { count -> Int in
            count.all += 1
            if slow { count.slow += 1 }
            return count.all
        }
    }

    /// Gives a permit back; the permits still in use.
    func released(slow: Bool) -> Int {
        let left = inUse.withLock { count -> Int in
            count.all -= 1
            if slow { count.slow -= 1 }
            return count.all
        }
        semaphore.release()
        return left
    }
}

/// One side of a `bulkhead` run: the slow and the fast calls through its pool or pools,
/// each dependency its own.
struct BulkheadArm: Sendable {
    struct Report: Sendable {
        let fastLatencies: [Double]
        let slowLatencies: [Double]
        let fastQueued: Int
        /// Fast calls that found their pool full while slow calls held some of it.
        let fastQueuedBehindSlow: Int
        var fastP95: Double { fastLatencies.percentile(95) ?? 0 }

        var json: JSONValue {
            [
                "fast_p50_ms": .milliseconds(fastLatencies.percentile(50) ?? 0), "fast_p95_ms": .milliseconds(fastP95),
                "fast_max_ms": .milliseconds(fastLatencies.max() ?? 0),
                "slow_p50_ms": .milliseconds(slowLatencies.percentile(50) ?? 0),
                "slow_max_ms": .milliseconds(slowLatencies.max() ?? 0), "fast_calls_queued": .int(fastQueued),
                "fast_calls_queued_behind_slow": .int(fastQueuedBehindSlow),
            ]
        }
    }

    /// One call's latency (arrival to answer), whether it waited for a permit, and whether
    /// slow calls held part of its pool when it did.
    private struct CallReport: Sendable {
        let fast: Bool
        let latencyMs: Double
        let queued: Bool
        let behindSlow: Bool
    }

    let name: String
    let index: Int
    let setup: BulkheadSetup
    let fastPool: BulkheadPool
    let slowPool: BulkheadPool

    func run(_ context: RunContext) async throws -> Report {
        let fast = dependency(latencyMs: setup.fastMs)
        let slow = dependency(latencyMs: setup.slowMs)
        let firstID = index * (setup.slowCalls + setup.fastCalls)
        let startMs = context.elapsedMs()
        let calls = try await withThrowingTaskGroup(of: CallReport.self) { group in
            for call in 0..<setup.slowCalls {
                group.addTask { try await self.call(firstID + call, "slow-\(call)", fast: false, slow, slowPool, context) }
            }
            for call in 0..<setup.fastCalls {
                let arrival = startMs + Double(setup.fastArrivalMs(call))
                try await context.clock.sleep(until: .microseconds(Int(arrival * 1000)))
                group.addTask {
                    try await self.call(firstID + setup.slowCalls + call, "fast-\(call)", fast: true, fast, fastPool, context)
                }
            }
            var reports: [CallReport] = []
            for try await report in group { reports.append(report) }
            return reports
        }
        return Report(
            fastLatencies: calls.filter(\.fast).map(\.latencyMs), slowLatencies: calls.filter { !$0.fast }.map(\.latencyMs),
            fastQueued: calls.count { $0.fast && $0.queued }, fastQueuedBehindSlow: calls.count { $0.fast && $0.behindSlow })
    }

    private func dependency(latencyMs: Int) -> SimulatedDependency {
        var profile = SimulatedDependency.Profile()
        profile.latencyMs = latencyMs
        return SimulatedDependency(profile)
    }

    private func call(
        _ id: Int, _ label: String, fast: Bool, _ dependency: SimulatedDependency, _ pool: BulkheadPool, _ context: RunContext
    ) async throws -> CallReport {
        try await context.task(id, label: "\(name)-\(label)") {
            let arrival = context.elapsedMs()
            let (queued, behindSlow) = try await acquire(id, pool, slow: !fast, label, context)
            defer {
                let left = pool.released(slow: !fast)
                context.emit("bulkhead.released", ["task": .int(id), "arm": .string(name), "call": .string(label), pool.counter: .int(left)])
            }
            _ = try await dependency.call(key: id, clock: context.clock)
            return CallReport(fast: fast, latencyMs: context.elapsedMs() - arrival, queued: queued, behindSlow: behindSlow)
        }
    }

    /// Takes a permit; whether it had to wait, and whether slow calls held part of the pool
    /// when it found it full.
    private func acquire(
        _ id: Int, _ pool: BulkheadPool, slow: Bool, _ label: String, _ context: RunContext
    ) async throws -> (queued: Bool, behindSlow: Bool) {
        let free = pool.semaphore.tryAcquire()
        let behindSlow = !free && pool.slowHolders > 0
        if !free {
            context.emit(
                "bulkhead.queued",
                ["task": .int(id), "arm": .string(name), "call": .string(label), "waiting": .int(pool.semaphore.waitingCount + 1)])
            try await pool.semaphore.acquire()
        }
        let inUse = pool.taken(slow: slow)
        context.emit("bulkhead.acquired", ["task": .int(id), "arm": .string(name), "call": .string(label), pool.counter: .int(inUse)])
        return (!free, behindSlow)
    }
}
