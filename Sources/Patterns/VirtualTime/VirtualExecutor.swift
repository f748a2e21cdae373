import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The executor of a virtual run: one thread of its own running jobs strictly in the order
/// they were enqueued, which, whenever it runs dry, jumps its `VirtualClock` to the
/// earliest deadline (autojump with a threshold of zero: the moment every task waits).
///
/// A run executes on it through a task executor preference, which its child tasks inherit,
/// so the interleaving of the run's tasks is a function of the run alone: one thread, a FIFO
/// queue, and a clock that wakes equal deadlines in the order they were set. A task the run
/// starts without the preference (a library's `Task {}`) joins it too, by the global
/// enqueues this thread makes (`GlobalJobRouting`). Threads the run starts
/// (`ThreadLauncher.tracked(by:)`) are waited for: no jump while one still runs. (An
/// unstructured task woken from such a thread is enqueued there, so it takes that step on the
/// global pool: no pattern on the virtual clock does this; blocking-offload refuses it.)
///
/// When it cannot go on it says why through `onHalt`, on its own thread; the handler is
/// expected to cancel the run there and then (cancellation wakes the run's sleepers, whose
/// jobs are then queued in a fixed order):
/// - `stalled`: nothing is queued and nothing is scheduled: a deadlock. Said once per
///   occasion; the thread then waits for a job;
/// - `timeLimit`: the next deadline is past `timeLimit`. Said once; jumps then go on
///   without the limit, so a run cancelled there can finish what it does while cancelled.
///
/// `shutdown()` ends the thread once the queue is empty and stops the jumps at once: the
/// clock stays where the run ended.
public final class VirtualExecutor: TaskExecutor, @unchecked Sendable {
    /// Why the executor stopped moving time.
    public enum Halt: Sendable, Equatable, CustomStringConvertible {
        case stalled(at: Duration)
        case timeLimit(next: Duration, limit: Duration)

        public var description: String {
            switch self {
            case .stalled(let at):
                "virtual time stalled at \(at.milliseconds) ms: every task waits and nothing is scheduled on the clock to wake one (a deadlock)"
            case .timeLimit(let next, let limit):
                "the next deadline (\(next.milliseconds) ms) is past the virtual time limit of \(limit.components.seconds) s; the run was cancelled there"
            }
        }
    }

    private struct State {
        var jobs = JobQueue()
        /// While held, queued jobs wait (see `init(held:)`).
        var held: Bool
        var stopped = false
        /// The thread has ended: a job enqueued now goes to the global executor.
        var finished = false
        /// Whether the thread waits on `wake` (then the next enqueue or wake-up signals it).
        var sleeping = false
        /// Bumped by every enqueue and wake-up: a thread that looked before a bump must
        /// look again instead of sleeping.
        var generation: UInt64 = 0

        /// Records a change; true when the thread sleeps and must be signalled (once).
        mutating func bump() -> Bool {
            generation &+= 1
            guard sleeping else { return false }
            sleeping = false
            return true
        }
    }

    // `@unchecked`: all state is behind `state`; `wake` is a thread-safe semaphore.
    private let state: Mutex<State>
    private let wake = DispatchSemaphore(value: 0)
    public let clock: VirtualClock
    private let timeLimit: Duration?
    private let onHalt: @Sendable (Halt) -> Void

    /// Starts the thread. `timeLimit` bounds the clock's jumps (time since its zero).
    /// `held`: jobs wait until `release()`, so that whoever starts a task here can first
    /// note its handle (a halt may have to cancel it).
    public init(
        clock: VirtualClock, timeLimit: Duration? = nil, held: Bool = false, threads: ThreadLauncher = .pthreads,
        onHalt: @escaping @Sendable (Halt) -> Void = { _ in }
    ) throws {
        state = Mutex(State(held: held))
        self.clock = clock
        self.timeLimit = timeLimit
        self.onHalt = onHalt
        clock.activity.whenIdle { [weak self] in self?.wakeUp() }
        GlobalJobRouting.install()
        try threads.launch { [self] in runLoop() }
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        enqueue(unowned: UnownedJob(job))
    }

    /// Queues a job, addressed to this executor or routed here (`GlobalJobRouting`: a job of
    /// an unstructured task the run started). Once the thread has ended (a continuation of
    /// the run resumed after it), the job goes to the global executor instead: neither lost
    /// in a queue nobody drains nor run on a thread that is gone.
    public func enqueue(unowned job: UnownedJob) {
        let (queued, signal) = state.withLock { state -> (Bool, Bool) in
            guard !state.finished else { return (false, false) }
            state.jobs.append(job)
            return (true, state.bump())
        }
        if signal { wake.signal() }
        if !queued {
            // Outside any run, so that the routing hook lets it through to the global pool.
            Self.outsideRun { globalConcurrentExecutor.enqueue(ExecutorJob(job)) }
        }
    }

    /// Lets held jobs run.
    public func release() {
        let signal = state.withLock { state -> Bool in
            state.held = false
            return state.bump()
        }
        if signal { wake.signal() }
    }

    /// Stops the jumps; the thread ends once the queue is empty. Call it when the run ended.
    public func shutdown() {
        let signal = state.withLock { state -> Bool in
            state.stopped = true
            return state.bump()
        }
        if signal { wake.signal() }
        clock.activity.whenIdle(nil)
    }

    /// The executor whose thread calls this, until it is shut down; nil on any other thread,
    /// and inside `outsideRun`. A task started with `Task {}` does not inherit a task executor
    /// preference, so a library's unstructured task would run on the global pool, unseen by
    /// the jumps: `GlobalJobRouting` sends the global enqueues made on this thread here.
    public static var onCurrentThread: VirtualExecutor? {
        guard let raw = pthread_getspecific(threadKey) else { return nil }
        let executor = Unmanaged<VirtualExecutor>.fromOpaque(raw).takeUnretainedValue()
        return executor.state.withLock { $0.stopped } ? nil : executor
    }

    /// Runs `body` as if off the run's thread: the jobs it enqueues on the global executor go
    /// there, not to the run. For what the run hands to the world (its events, to a sink that
    /// may resume a subscriber's task): the world's tasks must not run on the run's thread.
    public static func outsideRun<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        guard let raw = pthread_getspecific(threadKey) else { return try body() }
        pthread_setspecific(threadKey, nil)
        defer { pthread_setspecific(threadKey, raw) }
        return try body()
    }

    private static let threadKey: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "no thread-specific key left")
        return key
    }()

    /// Something other than a job may let the thread go on (a thread parked).
    private func wakeUp() {
        if state.withLock({ $0.bump() }) { wake.signal() }
    }

    private enum Next {
        case run(UnownedJob)
        case idle(generation: UInt64)
        case stop
    }

    private func runLoop() {
        ThreadLauncher.nameCurrentThread("lab-virtual")
        clock.attachDriver()
        // Unretained: this thread's closure holds the executor until the loop ends.
        pthread_setspecific(Self.threadKey, Unmanaged.passUnretained(self).toOpaque())
        defer {
            pthread_setspecific(Self.threadKey, nil)
            clock.detachDriver()
        }
        var limit = timeLimit
        // Nothing moves before the first job: the run is not there yet to be waited for.
        var halted = true
        while true {
            let generation: UInt64
            switch take() {
            case .run(let job):
                job.runSynchronously(on: asUnownedTaskExecutor())
                halted = false
                continue
            case .stop: return
            case .idle(let seen): generation = seen
            }
            if halted {
                sleep(unlessChangedSince: generation)
                continue
            }
            switch clock.jumpToNextDeadline(limit: limit) {
            case .jumped:
                continue
            case .threadsRunning:
                break
            case .nothingScheduled:
                onHalt(.stalled(at: clock.now.offset))
                halted = true
            case .beyondLimit(let next):
                // The handler cancels the run synchronously: its sleepers' jobs are queued
                // by now, and whatever the cancelled run still waits for may take place.
                onHalt(.timeLimit(next: next, limit: limit ?? .zero))
                limit = nil
                continue
            }
            sleep(unlessChangedSince: generation)
        }
    }

    /// The next job, or that the queue is empty (with the generation seen), or the end.
    private func take() -> Next {
        state.withLock { state in
            if state.held { return .idle(generation: state.generation) }
            if let job = state.jobs.popFirst() { return .run(job) }
            guard state.stopped else { return .idle(generation: state.generation) }
            state.finished = true
            return .stop
        }
    }

    private func sleep(unlessChangedSince generation: UInt64) {
        let mustSleep = state.withLock { state -> Bool in
            guard state.generation == generation else { return false }
            state.sleeping = true
            return true
        }
        if mustSleep { wake.wait() }
    }
}

/// A FIFO of jobs: an array and a head index, compacted as it drains, so a run that
/// enqueues a hundred thousand child tasks at once costs linear time.
private struct JobQueue {
    private var jobs: [UnownedJob] = []
    private var head = 0

    mutating func append(_ job: UnownedJob) {
        jobs.append(job)
    }

    mutating func popFirst() -> UnownedJob? {
        guard head < jobs.count else { return nil }
        let job = jobs[head]
        head += 1
        if head == jobs.count {
            jobs.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1024 && head * 2 >= jobs.count {
            jobs.removeFirst(head)
            head = 0
        }
        return job
    }
}
