import CTestHooks
import Dispatch
import Patterns
import Synchronization

/// A task executor with one thread of its own, running jobs strictly in the order they
/// were enqueued. A run under test executes on it (through a task executor preference,
/// which its child tasks inherit), which gives two things:
///
/// - determinism: one thread and a FIFO queue make the interleaving of a run's tasks a
///   function of the run alone, so a test can assert the exact order of events;
/// - observability: it reports to an `ActivityCounter` when it has work and when it runs
///   dry, so a driver knows when a run is waiting for the clock.
///
/// And it keeps the cooperative pool out of harm's way: a pattern that blocks its thread
/// (`blocking-offload` inline) blocks this one, never the pool the test runner needs.
public final class TestExecutor: TaskExecutor, @unchecked Sendable {
    private struct State {
        var jobs = JobQueue()
        var running = false
        /// While held, queued jobs wait: a driver resuming several tasks at one instant
        /// decides their order, not a race with this thread.
        var held = false
        var stopped = false
        /// What this executor last told the activity counter.
        var reportedActive = false

        /// Active: running a job, or able to start one.
        var isActive: Bool { running || (!held && !jobs.isEmpty) }
    }

    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    private let activity: ActivityCounter

    public init(activity: ActivityCounter) throws {
        self.activity = activity
        lab_install_global_enqueue_router { context, job in
            Unmanaged<TestExecutor>.fromOpaque(context).takeUnretainedValue().enqueue(unowned: unsafeBitCast(job, to: UnownedJob.self))
        }
        try ThreadLauncher.pthreads.launch { [self] in runLoop() }
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        enqueue(unowned: UnownedJob(job))
    }

    private func enqueue(unowned job: UnownedJob) {
        update { $0.jobs.append(job) }
        wake.signal()
    }

    /// Runs `body` with the global-executor enqueues it makes on this thread routed here:
    /// tasks without an executor preference that `body` wakes (a library's `Task {}`
    /// resumed by the manual clock, or cancelled) then run on this executor too, where
    /// its activity counts. Jobs run by this executor are routed the same way.
    public func routingGlobalJobs<T>(_ body: () throws -> T) rethrows -> T {
        try Self.routing(to: Unmanaged.passUnretained(self).toOpaque(), body)
    }

    /// Runs `body` with no routing on this thread: the test harness's own continuations
    /// (a driver waiting for the run to settle) must run where they always do, never on the
    /// executor whose thread may be the one blocked waiting for them.
    public static func withoutRouting<T>(_ body: () throws -> T) rethrows -> T {
        try routing(to: nil, body)
    }

    private static func routing<T>(to context: UnsafeMutableRawPointer?, _ body: () throws -> T) rethrows -> T {
        let previous = lab_thread_router_context()
        lab_set_thread_router_context(context)
        defer { lab_set_thread_router_context(previous) }
        return try body()
    }

    /// Queued jobs wait until `releaseJobs()`; a job already running goes on.
    public func holdJobs() {
        update { $0.held = true }
    }

    public func releaseJobs() {
        update { $0.held = false }
        wake.signal()
    }

    /// Ends the thread once the queue is empty. Jobs enqueued later never run.
    public func shutdown() {
        update {
            $0.stopped = true
            $0.held = false
        }
        wake.signal()
    }

    /// Changes the state, and tells the activity counter if that made it (in)active.
    private func update(_ change: (inout State) -> Void) {
        let transition = state.withLock { state -> Bool? in
            change(&state)
            guard state.isActive != state.reportedActive else { return nil }
            state.reportedActive = state.isActive
            return state.isActive
        }
        switch transition {
        case true?: activity.begin()
        case false?: activity.end()
        case nil: break
        }
    }

    private enum Next {
        case run(UnownedJob)
        case wait
        case stop
    }

    private func runLoop() {
        while true {
            var next = Next.wait
            update { state in
                if state.stopped && state.jobs.isEmpty {
                    next = .stop
                } else if !state.held, let job = state.jobs.popFirst() {
                    state.running = true
                    next = .run(job)
                }
            }
            switch next {
            case .stop: return
            case .wait: wake.wait()
            case .run(let job):
                routingGlobalJobs { job.runSynchronously(on: asUnownedTaskExecutor()) }
                update { $0.running = false }
            }
        }
    }
}

/// A FIFO of jobs: an array and a head index, compacted as it drains, so a run that
/// enqueues a hundred thousand child tasks at once costs linear time.
private struct JobQueue {
    private var jobs: [UnownedJob] = []
    private var head = 0

    var isEmpty: Bool { head == jobs.count }

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
