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
        /// Has queued jobs or is running one.
        var busy = false
        var stopped = false
    }

    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    private let activity: ActivityCounter

    public init(activity: ActivityCounter) throws {
        self.activity = activity
        try ThreadLauncher.pthreads.launch { [self] in runLoop() }
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let becameBusy = state.withLock { state -> Bool in
            state.jobs.append(job)
            defer { state.busy = true }
            return !state.busy
        }
        if becameBusy { activity.begin() }
        wake.signal()
    }

    /// Ends the thread once the queue is empty. Jobs enqueued later never run.
    public func shutdown() {
        state.withLock { $0.stopped = true }
        wake.signal()
    }

    private func runLoop() {
        while true {
            wake.wait()
            let next = state.withLock { state -> UnownedJob?? in
                if let job = state.jobs.popFirst() { return .some(job) }
                return state.stopped ? nil : .some(nil)
            }
            guard let next else { return }
            guard let job = next else { continue }
            job.runSynchronously(on: asUnownedTaskExecutor())
            let ranDry = state.withLock { state -> Bool in
                guard state.jobs.isEmpty else { return false }
                state.busy = false
                return true
            }
            if ranDry { activity.end() }
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
