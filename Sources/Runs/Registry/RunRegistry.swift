import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Patterns
import Synchronization

/// Admits, runs, finds and cancels runs.
///
/// Every run is a child task of `run()`, the registry's service loop: runs are structured
/// under the server's lifetime, and `shutdown()` cancels them and waits until each one has
/// ended and been handed to the store. Admission is immediate: over `maxConcurrentRuns`
/// the answer is `tooManyRuns` at once, never a queue.
public actor RunRegistry {
    public nonisolated let catalog: PatternCatalog
    public nonisolated let configuration: RunsConfiguration
    public nonisolated let store: any RunStore
    /// The other instances sharing the store, if any (`RunRegistry+Cluster.swift`).
    public nonisolated let cluster: (any RunCluster)?
    /// The links every run's JSON carries (the HTTP layer's; none by default).
    public nonisolated let links: RunLinks
    private let makeClock: @Sendable () -> RunClock
    private let now: @Sendable () -> Date
    private let ids = RunIDGenerator()
    private let logger: Logger
    private let launches: AsyncStream<LiveRun>
    private let launchContinuation: AsyncStream<LiveRun>.Continuation
    private nonisolated let serving = OneShotSignal()
    private nonisolated let served = OneShotSignal()

    private var active: [String: LiveRun] = [:]
    /// Every run held in memory (active and recent), readable without the actor: request
    /// handlers that only need a live run (an event stream) answer on the server's thread.
    private nonisolated let inMemory = Mutex<[String: LiveRun]>([:])
    /// Ended runs kept in memory, oldest first, up to `keepFinishedInMemory`.
    private var recent: [String: LiveRun] = [:]
    private var recentOrder: [String] = []
    private var shuttingDown = false
    /// Launches waiting for a cluster permit.
    private var reserved = 0
    /// Runs of this instance another one interrupted (`runLost`): once ended, they are not kept
    /// in memory, so reads go to the store, which says `interrupted`.
    var lost: Set<String> = []
    private var totals = RunTotals()
    /// The threads runs execute on, once the service loop started them: a run's context
    /// carries it, so work a pattern shields from cancellation runs there too.
    private var runExecutor: (any TaskExecutor)?
    /// Event logs being looked up in the store (`eventLog(id:)`), shared by the requests that
    /// ask for the same run meanwhile: a burst of subscribers to a run not in memory costs one
    /// lookup, not one per subscriber (each would hold a request slot while it waited).
    private var lookups: [String: Task<EventLog, any Error>] = [:]
    /// Requests that joined a lookup already under way (for tests).
    private(set) var joinedLookups = 0

    public init(
        catalog: PatternCatalog, configuration: RunsConfiguration = RunsConfiguration(),
        store: any RunStore = InMemoryRunStore(), cluster: (any RunCluster)? = nil, links: RunLinks = .none,
        logger: Logger = Logger(label: "runs"),
        clock: @escaping @Sendable () -> RunClock = { RunClock.continuous() },
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.catalog = catalog
        self.configuration = configuration
        self.store = store
        self.cluster = cluster
        self.links = links
        self.logger = logger
        self.makeClock = clock
        self.now = now
        (launches, launchContinuation) = AsyncStream.makeStream(of: LiveRun.self)
    }

    /// The service loop: runs every admitted run as a child task until `shutdown()`, and
    /// cancels the runs other instances ask to cancel.
    public nonisolated func run() async {
        serving.fire()
        // Runs execute on threads of their own, never on the pool that answers requests.
        let executor: (any TaskExecutor)? = try? DedicatedThreadsExecutor(width: configuration.runThreads)
        await setRunExecutor(executor)
        await withTaskGroup(of: Void.self) { service in
            if let cluster {
                service.addTask { for await id in cluster.cancelRequests { await self.cancelRequested(id: id) } }
                service.addTask { for await id in cluster.lostRuns { await self.runLost(id: id) } }
            }
            await withDiscardingTaskGroup { group in
                for await live in launches {
                    group.addTask(executorPreference: executor) { await self.execute(live) }
                }
            }
            service.cancelAll()
        }
        (executor as? DedicatedThreadsExecutor)?.shutdown()
        served.fire()
    }

    private func setRunExecutor(_ executor: (any TaskExecutor)?) {
        runExecutor = executor
    }

    private nonisolated func execute(_ live: LiveRun) async {
        let execution = await live.execute()
        let record = live.finalRecord(of: execution, at: now())
        // Leave the active set before anyone can see the end, so a client that reacts to
        // `run.finished` by launching again is not refused for a run that has ended.
        let lost = await ended(live, record: record)
        guard !lost else {
            // Another instance ended it (`runLost`): the store has its end already, and the
            // streams here end as that end says, `interrupted` (not the local cancel's status).
            live.publish(record.interrupted(at: record.finishedAt ?? now()))
            return
        }
        // The store sees the end before anyone is told of it, so a listing filtered by
        // status right after a `?wait=` answer finds the run; its events follow.
        store.save(record, events: nil)
        live.publish(record)
        store.save(record, events: live.log.allEvents)
        // A large run leaves its memory in glibc's free lists; hand it back to the system.
        if record.progress.total >= 100_000 { Self.returnFreedMemory() }
    }

    /// glibc's `malloc_trim(0)`, looked up at run time (Swift's Glibc module does not
    /// export it; elsewhere it is a no-op).
    private nonisolated static func returnFreedMemory() {
        #if canImport(Glibc)
        typealias MallocTrim = @convention(c) (Int) -> Int32
        guard let symbol = dlsym(nil, "malloc_trim") else { return }
        _ = unsafeBitCast(symbol, to: MallocTrim.self)(0)
        #endif
    }

    /// Validates and admits a run (here, then against the cluster's bound when there is one),
    /// and starts it; returns it as it is at launch.
    public func launch(pattern name: String, parameters raw: [String: RawParameter]) async throws(RunsError) -> LiveRun {
        guard let pattern = catalog.pattern(named: name) else { throw .unknownPattern(name) }
        let parameters: ParameterSet
        switch catalog.validate(raw, for: pattern) {
        case .success(let valid): parameters = valid
        case .failure(let error): throw .invalidParameters(error.issues)
        }
        try admitHere()
        let createdAt = now()
        let id = ids.next(millisecondsSinceEpoch: UInt64(max(0, createdAt.timeIntervalSince1970 * 1000)))
        guard let cluster, let limit = cluster.clusterRunLimit else {
            return start(id: id, pattern: pattern, parameters: parameters, createdAt: createdAt)
        }
        // Held across the wait for the permit, so launches meanwhile count it against the bound here.
        reserved += 1
        defer { reserved -= 1 }
        let granted: Bool
        do {
            granted = try await cluster.acquirePermit(runID: id)
        } catch {
            // It may have been taken before the failure was known (a timeout, a lost connection).
            cluster.releasePermit(runID: id)
            throw .storeUnavailable(String(describing: error))
        }
        guard granted else {
            totals.rejected += 1
            throw .tooManyRuns(limit: limit, retryAfterSeconds: configuration.retryAfterSeconds)
        }
        guard !shuttingDown else {
            cluster.releasePermit(runID: id)
            throw .shuttingDown
        }
        return start(id: id, pattern: pattern, parameters: parameters, createdAt: createdAt)
    }

    /// The bound of this instance: refuses at once past it.
    private func admitHere() throws(RunsError) {
        guard !shuttingDown else { throw .shuttingDown }
        guard active.count + reserved < configuration.maxConcurrentRuns else {
            totals.rejected += 1
            throw .tooManyRuns(limit: configuration.maxConcurrentRuns, retryAfterSeconds: configuration.retryAfterSeconds)
        }
    }

    private func start(id: String, pattern: any Pattern, parameters: ParameterSet, createdAt: Date) -> LiveRun {
        let log = EventLog(maxLag: configuration.subscriberMaxLag)
        let virtualClock = parameters.clockMode == .virtual ? VirtualClock() : nil
        let clock = virtualClock?.runClock ?? makeClock()
        let recorder = RunRecorder(
            clock: clock, sink: log, spanCap: configuration.limits.spanCap, eventCap: configuration.eventCap,
            progressInterval: Self.progressInterval(pattern.plannedDuration(parameters), virtual: virtualClock != nil))
        // A virtual run waits for any thread it starts before moving time (none do today:
        // the pattern that blocks threads refuses the virtual clock).
        let threads = virtualClock.map { ThreadLauncher.tracked(by: $0.activity) } ?? .pthreads
        let live = LiveRun(
            id: id, pattern: pattern, parameters: parameters, createdAt: createdAt, log: log, links: links,
            context: RunContext(clock: clock, recorder: recorder, limits: configuration.limits, threads: threads,
                taskExecutor: runExecutor),
            virtualClock: virtualClock)
        active[id] = live
        inMemory.withLock { $0[id] = live }
        totals.started[pattern.name, default: 0] += 1
        store.save(live.snapshot(), events: nil)
        cluster?.publish(runID: id, log: log, snapshot: { [weak live] in live?.snapshot() })
        launchContinuation.yield(live)
        return live
    }

    /// Progress is coalesced to one event per 50 ms of the run's time; a virtual run may
    /// plan a day, which would be 1.7 million of them: its interval stretches so that a
    /// run as long as its plan announces progress about a thousand times.
    static func progressInterval(_ planned: Duration, virtual: Bool) -> Duration {
        let interval = Duration.milliseconds(50)
        return virtual ? max(interval, planned / 1_000) : interval
    }

    /// Returns whether the run was lost to another instance (then it is not kept in memory).
    private func ended(_ live: LiveRun, record: RunRecord) -> Bool {
        active[live.id] = nil
        if lost.remove(live.id) != nil {
            totals.ended[EndKey(pattern: record.pattern, status: .interrupted), default: 0] += 1
            inMemory.withLock { _ = $0.removeValue(forKey: live.id) }
            return true
        }
        totals.ended[EndKey(pattern: record.pattern, status: record.status), default: 0] += 1
        recent[live.id] = live
        recentOrder.append(live.id)
        while recentOrder.count > configuration.keepFinishedInMemory {
            let evicted = recentOrder.removeFirst()
            recent[evicted] = nil
            inMemory.withLock { _ = $0.removeValue(forKey: evicted) }
        }
        return false
    }

    /// A run held in memory (active or recently ended), if any.
    public func live(id: String) -> LiveRun? {
        active[id] ?? recent[id]
    }

    /// The same, without a hop to the actor.
    public nonisolated func liveRun(id: String) -> LiveRun? {
        inMemory.withLock { $0[id] }
    }

    /// The run with this id, from memory or the store.
    public func record(id: String) async throws(RunsError) -> RunRecord {
        if let live = live(id: id) { return live.snapshot() }
        do {
            if let record = try await store.record(id: id) { return record }
        } catch {
            throw .storeUnavailable(String(describing: error))
        }
        throw .runNotFound(id)
    }

    /// The run's event log: the live one, one that follows a run executing on another
    /// instance, or one rebuilt from the store's events. Concurrent requests for the same run
    /// share one lookup.
    public func eventLog(id: String) async throws(RunsError) -> EventLog {
        if let live = live(id: id) { return live.log }
        let lookup: Task<EventLog, any Error>
        if let pending = lookups[id] {
            joinedLookups += 1
            lookup = pending
        } else {
            lookup = Task { [store, cluster] in try await Self.storedEventLog(id: id, store: store, cluster: cluster) }
            lookups[id] = lookup
        }
        let result = await lookup.result
        if lookups[id] == lookup { lookups[id] = nil }
        switch result {
        case .success(let log): return log
        case .failure(let error as RunsError): throw error
        case .failure(let error): throw .storeUnavailable(String(describing: error))
        }
    }

    private static func storedEventLog(id: String, store: any RunStore, cluster: (any RunCluster)?) async throws -> EventLog {
        if let events = try await store.events(runID: id) { return EventLog(finishedWith: events) }
        guard try await store.record(id: id) != nil else { throw RunsError.runNotFound(id) }
        // Another instance's run: unfinished, or ended with its last events still on their way.
        if let cluster { return try await cluster.follow(runID: id) }
        return EventLog(finishedWith: [])
    }

    /// The clock the run kept (from memory, or from the stored record's parameters).
    public func clockMode(id: String) async throws(RunsError) -> ClockMode {
        if let live = live(id: id) { return live.parameters.clockMode }
        let clock = try await record(id: id).params[ClockMode.parameterName]?.stringValue
        return clock.flatMap(ClockMode.init(rawValue:)) ?? .real
    }

    /// Requests cancellation of a running run, here or (through the cluster) on the instance
    /// that runs it; the run ends `cancelled` shortly after.
    public func cancel(id: String) async throws(RunsError) -> RunRecord {
        if let live = active[id], !live.hasEnded {
            live.cancelRequested.fire()
            return live.snapshot()
        }
        let record = try await record(id: id)
        guard !record.status.isTerminal, live(id: id) == nil, let cluster else { throw .alreadyEnded(record) }
        do {
            try await cluster.requestCancel(runID: id)
        } catch {
            throw .storeUnavailable(String(describing: error))
        }
        return record
    }

    public func list(_ query: RunQuery) async throws(RunsError) -> RunPage {
        do {
            let page = try await store.list(query)
            // The store has every run, but a running run's progress is fresher in memory.
            return RunPage(runs: page.runs.map { active[$0.id]?.snapshot() ?? $0 }, nextCursor: page.nextCursor)
        } catch {
            throw .storeUnavailable(String(describing: error))
        }
    }

    public var activeCount: Int { active.count }
    public var statistics: RunTotals { totals }

    /// Refuses new runs, cancels every active one, waits until each has ended (so it is
    /// saved as `cancelled`), ends the service loop and flushes the store.
    /// Returns whether every run ended within `grace`. A run whose task cannot stop (a
    /// blocking call in progress ignores cancellation) is left behind after it: it stays
    /// `running` in the store, and the next start marks it `interrupted`.
    @discardableResult
    public func shutdown(grace: Duration = .seconds(3_600)) async -> Bool {
        shuttingDown = true
        let running = Array(active.values)
        for live in running { live.cancelRequested.fire() }
        launchContinuation.finish()
        // Every run's task ends only after its final record was handed to the store.
        let drained: Bool
        if serving.isFired {
            drained = await served.wait(timeout: grace)
        } else {
            drained = true
            for live in running { await live.finished.wait() }
        }
        await store.flush()
        let unfinished = drained ? 0 : active.count
        logger.info("runs drained", metadata: ["cancelled": "\(running.count)", "left_unfinished": "\(unfinished)"])
        return drained
    }
}

/// Counters the metrics endpoint exports.
public struct RunTotals: Sendable {
    public var started: [String: Int] = [:]
    public var ended: [EndKey: Int] = [:]
    public var rejected = 0
}

public struct EndKey: Sendable, Hashable {
    public let pattern: String
    public let status: RunStatus
}
